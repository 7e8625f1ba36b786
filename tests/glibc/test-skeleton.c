/* test-skeleton.c: libosmem's stand-in (see support/check.h).  The older
 * glibc tests include this file (as "../test-skeleton.c") after defining
 * TEST_FUNCTION; it is the same driver. */
#include <support/test-driver.c>
