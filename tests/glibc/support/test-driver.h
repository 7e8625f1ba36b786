/* support/test-driver.h: libosmem's stand-in (see support/check.h). */
#ifndef OSMEM_GLIBC_TEST_DRIVER_H
#define OSMEM_GLIBC_TEST_DRIVER_H
/* Seconds a test may run, as glibc's harness allows by default. */
#define DEFAULT_TIMEOUT 20
#endif
