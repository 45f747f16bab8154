/*
 * libscep symbol export.  libscep is built with hidden visibility, so a
 * function is part of libscep.so's ABI only when its declaration in
 * include/scep/ carries SCEP_API; dist/libscep.map lists the same names
 * for the linker (both must agree, and tests/integration/test_abi.sh
 * checks that nm -D shows exactly what these headers declare).  Helpers
 * inside libscep use the msg_, client_ or common_ prefixes and stay
 * invisible to programs linking the shared library.
 */
#ifndef SCEP_EXPORT_H
#define SCEP_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SCEP_API __attribute__((visibility("default")))
#else
#define SCEP_API
#endif

#endif
