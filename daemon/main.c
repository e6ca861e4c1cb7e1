/* main.c - mailsyncd entry point (placeholder until the cfg work lands). */
#include <stdio.h>
#include "ms_version.h"

int
main(void)
{
	printf("mailsyncd %s\n", MS_VERSION);
	return 0;
}
