// Wrappers around memcheck's client requests for the constant-time check (Tests/CTime). The requests are
// macros with inline assembly, which Swift cannot import, so they are wrapped in functions here.
#ifndef PURSER_CVALGRIND_H
#define PURSER_CVALGRIND_H

#include <stddef.h>

/// 1 when the build saw valgrind/memcheck.h (the requests below are real), 0 when they are stubs.
int purser_valgrind_available(void);

/// Non-zero when the process runs under valgrind.
int purser_running_on_valgrind(void);

/// Marks `count` bytes at `pointer` undefined: memcheck then reports any branch, memory address or system
/// call argument that depends on them.
void purser_valgrind_classify(void *pointer, size_t count);

/// Marks `count` bytes at `pointer` defined again (the value is public).
void purser_valgrind_declassify(void *pointer, size_t count);

/// Memcheck's error count so far (0 outside valgrind).
unsigned long purser_valgrind_error_count(void);

#endif
