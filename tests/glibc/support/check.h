/*
 * support/check.h: libosmem's stand-in for the header of that name in
 * glibc's test harness, enough to build glibc's malloc tests outside
 * glibc's tree (tests/glibc-t.sh).  Written for libosmem; the names and
 * meanings are those the tests expect.
 */
#ifndef OSMEM_GLIBC_CHECK_H
#define OSMEM_GLIBC_CHECK_H

#include <stdio.h>
#include <stdlib.h>

/* test-driver.c */
void support_record_failure(void);
int support_record_failure_is_failed(void);

#define OSMEM_GT_WHERE() printf("error: %s:%d: ", __FILE__, __LINE__)

#define FAIL(...)                                                             \
	(OSMEM_GT_WHERE(), printf(__VA_ARGS__), putchar('\n'),                \
	 support_record_failure())
#define FAIL_RET(...)                                                         \
	do {                                                                  \
		FAIL(__VA_ARGS__);                                            \
		return 1;                                                     \
	} while (0)
#define FAIL_EXIT(status, ...)                                                \
	do {                                                                  \
		FAIL(__VA_ARGS__);                                            \
		fflush(stdout);                                               \
		exit(status);                                                 \
	} while (0)
#define FAIL_EXIT1(...) FAIL_EXIT(1, __VA_ARGS__)
#define FAIL_UNSUPPORTED(...)                                                 \
	do {                                                                  \
		printf("unsupported: ");                                      \
		printf(__VA_ARGS__);                                          \
		putchar('\n');                                                \
		fflush(stdout);                                               \
		exit(77);                                                     \
	} while (0)

#define TEST_VERIFY(e) ((e) ? (void)0 : (void)FAIL("check failed: %s", #e))
#define TEST_VERIFY_EXIT(e)                                                   \
	do {                                                                  \
		if (!(e))                                                     \
			FAIL_EXIT1("check failed: %s", #e);                   \
	} while (0)
#define TEST_COMPARE(a, b)                                                    \
	do {                                                                  \
		long long osmem_gt_a = (long long)(a),                        \
		          osmem_gt_b = (long long)(b);                        \
		if (osmem_gt_a != osmem_gt_b)                                 \
			FAIL("%s == %s: %lld != %lld", #a, #b, osmem_gt_a,    \
			     osmem_gt_b);                                     \
	} while (0)

#endif
