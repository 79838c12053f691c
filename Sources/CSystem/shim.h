#ifndef PORTCULLIS_CSYSTEM_SHIM_H
#define PORTCULLIS_CSYSTEM_SHIM_H
/* Linux headers Swift's Glibc module leaves out. */
#include <sys/epoll.h>
#endif
