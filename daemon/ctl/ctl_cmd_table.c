/*
 * ctl_cmd_table.c - every command the control server knows, in the
 * order `help` lists them.  A new command: its own ctl_cmd_NAME.c, a
 * declaration in ctl_cmd.h, a line here.
 */
#include <stddef.h>

#include "ctl/ctl_cmd.h"

const struct ctl_cmd *const ctl_cmds[] = {
	&ctl_cmd_status,
	&ctl_cmd_accounts,
	&ctl_cmd_folders,
	&ctl_cmd_list,
	&ctl_cmd_cat,
	&ctl_cmd_search,
	&ctl_cmd_flag,
	&ctl_cmd_move,
	&ctl_cmd_delete,
	&ctl_cmd_sync,
	&ctl_cmd_pause,
	&ctl_cmd_resume,
	&ctl_cmd_watch,
	&ctl_cmd_reload,
	&ctl_cmd_outbox,
	&ctl_cmd_version,
	&ctl_cmd_help,
	NULL,
};
