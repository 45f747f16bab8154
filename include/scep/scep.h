/*
 * libscep: RFC 8894 SCEP messages and client.  Include this umbrella
 * header, link with -lscep (pkg-config: libscep).
 */
#ifndef SCEP_SCEP_H
#define SCEP_SCEP_H

#include <scep/error.h>
#include <scep/message.h>
#include <scep/caps.h>
#include <scep/encoding.h>
#include <scep/client.h>

#define SCEP_VERSION_STRING "0.1.0"

#endif
