#ifndef PURSER_CLINUX_SHIM_H
#define PURSER_CLINUX_SHIM_H

#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>

// glibc declares pipe2 and accept4 only under _GNU_SOURCE, which Swift's Glibc module is not built with.
// Both create a descriptor that is close-on-exec from its first instant: setting FD_CLOEXEC with fcntl
// afterwards leaves a window in which a posix_spawn on another thread (the command signer) inherits it.

extern int pipe2(int pipefd[2], int flags);
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);

/// pipe(2) with both ends close-on-exec, plus any other pipe2 flags (O_NONBLOCK).
static inline int purser_pipe_cloexec(int descriptors[2], int flags) {
    return pipe2(descriptors, flags | O_CLOEXEC);
}

/// accept(2) of a connection whose descriptor is close-on-exec; the peer's address is not kept.
static inline int purser_accept_cloexec(int listener) {
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

#endif
