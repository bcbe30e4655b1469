// CSQLite: the system SQLite 3 (Debian 12: libsqlite3-dev 3.40).
#ifndef MEDTUNNEL_CSQLITE_SHIM_H
#define MEDTUNNEL_CSQLITE_SHIM_H

#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro cast of -1 to a function pointer, which Swift cannot import.
static inline sqlite3_destructor_type c_sqlite_transient(void) { return SQLITE_TRANSIENT; }

#endif
