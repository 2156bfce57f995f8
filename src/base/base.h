/*
 * base/base.h - the whole foundation library in one include.
 *
 * status (cove/status.h): status codes and error records
 * alloc:  the allocation wrapper with failure injection
 * log:    leveled logging to one sink
 * limits: every bound on outside input
 * arena:  region allocator with cleanup hooks
 * buf:    growable byte buffer with a maximum
 * str:    string, UTF-8 and JSON-escaping helpers
 * pool:   fork-join thread pool for the kernels
 * cpu:    CPU feature probe
 */
#ifndef COVE_BASE_BASE_H
#define COVE_BASE_BASE_H

#include "cove/status.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/cpu.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/pool.h"
#include "base/str.h"

#endif
