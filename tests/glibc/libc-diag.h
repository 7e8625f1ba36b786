/* libc-diag.h: libosmem's stand-in (see support/check.h).  glibc's tree
 * uses these to silence chosen warnings; the tests build here without
 * -Werror, so they expand to nothing. */
#ifndef OSMEM_GLIBC_LIBC_DIAG_H
#define OSMEM_GLIBC_LIBC_DIAG_H
#define DIAG_PUSH_NEEDS_COMMENT
#define DIAG_POP_NEEDS_COMMENT
#define DIAG_IGNORE_NEEDS_COMMENT(version, option)
#define DIAG_IGNORE_NEEDS_COMMENT_CLANG(version, option)
#define DIAG_IGNORE_Os_NEEDS_COMMENT(version, option)
#endif
