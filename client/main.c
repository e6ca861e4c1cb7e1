/* main.c - mailsyncctl entry point (placeholder until the ctl work lands). */
#include <stdio.h>
#include "ms_version.h"

int
main(void)
{
	printf("mailsyncctl %s\n", MS_VERSION);
	return 0;
}
