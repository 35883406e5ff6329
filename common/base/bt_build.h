/* bt_build — identity of this build, for the cluster handshake.
 *
 * Two programs may only share a sweep if they compute the same bits. The
 * version string says nothing about local edits, so the build id is a
 * sha256 over every source under common/, strategies/ and worker/, the
 * compiler and the C flags, computed at build time (cmake/build_id.cmake).
 * Workers send it in HELLO; the coordinator refuses a different one. */
#ifndef BT_BUILD_H
#define BT_BUILD_H

/* 64 lowercase hex digits. */
const char *bt_build_id(void);

#endif
