/* support/temp_file.h: libosmem's stand-in (see support/check.h). */
#ifndef OSMEM_GLIBC_TEMP_FILE_H
#define OSMEM_GLIBC_TEMP_FILE_H

/* A new file in the temporary directory, its name starting with base,
 * removed when the test ends; its descriptor (its name in *name, which
 * the caller frees, if name is not NULL), or -1. */
int create_temp_file(const char *base, char **name);
void add_temp_file(const char *name);

#endif
