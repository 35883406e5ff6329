/* bt_runz — a fast zlib stream (RFC 1950/1951) for columns of 8-byte values,
 * e.g. the chunks of run.h5 behind HDF5's standard deflate filter.
 *
 * General-purpose deflate (zlib level 1: ~0.3-0.4 GB/s here) costs more CPU
 * than writing the bytes uncompressed. The redundancy of a per-bar series is
 * mostly runs: cash and positions between trades, equity and values while
 * flat. This coder finds only those: a word equal to the one before it is
 * part of a match at distance 8, every other byte is a literal (a stored
 * block, or fixed-Huffman codes for stretches under 64 bytes). It reads each
 * word once and copies the rest, so it runs at memory speed, and its output is
 * an ordinary zlib stream any inflater (zlib, h5py, PyTables) reads back. */
#ifndef BT_RUNZ_H
#define BT_RUNZ_H

#include <stddef.h>

/* Most bytes bt_runz_encode writes for n input bytes. */
size_t bt_runz_bound(size_t n);

/* Encodes n bytes (n a multiple of 8, src 8-byte aligned) into dst (room for
 * bt_runz_bound(n) bytes); returns the stream's length. */
size_t bt_runz_encode(const void *src, size_t n, void *dst);

#endif
