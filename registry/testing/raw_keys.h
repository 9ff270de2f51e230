#pragma once
// Test and bench support: the registry at the key level. For tests that play another component
// (or a broken or older one) writing keys directly, that look at a key's lease or revision, and
// for benches that load a store faster than the typed calls would. Production code outside
// registry/ never sees keys or encodings: it goes through Registry's typed calls and feeds.
//
// Keys come from Registry::keys() (or a KeyLayout of the same prefix), values from encode().

#include "registry/codec.h"       // IWYU pragma: export
#include "registry/key_layout.h"  // IWYU pragma: export
#include "registry/kv.h"          // IWYU pragma: export
