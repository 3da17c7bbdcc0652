/* fs.h - file system helpers shared by every module that writes files. */
#ifndef BT_FS_H
#define BT_FS_H

#include <sys/types.h>

/* mkdir -p: create path and its missing parents with mode (existing ones are kept).
 * 0, or -1 with errno set (ENAMETOOLONG for a path over 4095 bytes). */
int bt_mkdirs(const char *path, mode_t mode);
/* bt_mkdirs of the directory part of path (nothing to do for a bare file name). */
int bt_mkdirs_parent(const char *path, mode_t mode);

#endif
