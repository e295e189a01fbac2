#include "CValgrind.h"

// Without the valgrind headers the target still builds (so `swift build` works on any machine), but the
// check refuses to run: purser_valgrind_available() reports 0.
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define PURSER_HAVE_VALGRIND 1
#else
#define PURSER_HAVE_VALGRIND 0
#endif

int purser_valgrind_available(void) { return PURSER_HAVE_VALGRIND; }

int purser_running_on_valgrind(void) {
#if PURSER_HAVE_VALGRIND
    return RUNNING_ON_VALGRIND;
#else
    return 0;
#endif
}

void purser_valgrind_classify(void *pointer, size_t count) {
#if PURSER_HAVE_VALGRIND
    (void)VALGRIND_MAKE_MEM_UNDEFINED(pointer, count);
#else
    (void)pointer;
    (void)count;
#endif
}

void purser_valgrind_declassify(void *pointer, size_t count) {
#if PURSER_HAVE_VALGRIND
    (void)VALGRIND_MAKE_MEM_DEFINED(pointer, count);
#else
    (void)pointer;
    (void)count;
#endif
}

unsigned long purser_valgrind_error_count(void) {
#if PURSER_HAVE_VALGRIND
    return (unsigned long)VALGRIND_COUNT_ERRORS;
#else
    return 0;
#endif
}
