/* fs.h - file system helpers shared by every module that writes files. */
#ifndef BT_FS_H
#define BT_FS_H

#include <sys/types.h>

/* mkdir -p: create path and its missing parents with mode (existing ones are kept).
 * 0, or -1 with errno set (ENAMETOOLONG for a path over 4095 bytes). */
int bt_mkdirs(const char *path, mode_t mode);
/* bt_mkdirs of the directory part of path (nothing to do for a bare file name). */
int bt_mkdirs_parent(const char *path, mode_t mode);
/* write(2) all n bytes of p to fd, again after EINTR and short writes. 0, or the errno
 * of the failed write (EIO when the file takes no more bytes). */
int bt_write_all(int fd, const void *p, size_t n);

#endif
