/* bt_store_map — mapping a bar field from the store file. See bt_store_map.h. */
#define _DEFAULT_SOURCE /* MAP_POPULATE */
#include "bt_store_map.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* File address of value 0 when the n values lie back to back in the file; 0 otherwise. */
static haddr_t s_run_start(hid_t ds, hid_t dcpl, size_t n)
{
    H5D_layout_t lay = H5Pget_layout(dcpl);
    if (H5Pget_nfilters(dcpl) != 0)
        return 0;
    if (lay == H5D_CONTIGUOUS) {
        haddr_t a = H5Dget_offset(ds);
        return a == HADDR_UNDEF ? 0 : a;
    }
    hsize_t cdim = 0, nch = 0;
    hid_t sp = H5Dget_space(ds);
    bool ok = lay == H5D_CHUNKED && H5Pget_chunk(dcpl, 1, &cdim) == 1 && cdim > 0 && sp >= 0 &&
              H5Dget_num_chunks(ds, sp, &nch) >= 0 && nch == (n + cdim - 1) / cdim;
    if (sp >= 0)
        H5Sclose(sp);
    haddr_t a0 = 0;
    for (hsize_t k = 0; ok && k < nch; k++) {
        hsize_t off = k * cdim, size = 0;
        unsigned mask = 0;
        haddr_t a = HADDR_UNDEF;
        ok = H5Dget_chunk_info_by_coord(ds, &off, &mask, &a, &size) >= 0 && mask == 0 &&
             a != HADDR_UNDEF && size == cdim * 8;
        if (k == 0)
            a0 = a;
        ok = ok && a == a0 + k * cdim * 8;
    }
    return ok ? a0 : 0;
}

bool bt_store_map_field(hid_t grp, const char *name, int fd, size_t n, bool is_time,
                        bool populate, const void **data, void **map, size_t *len,
                        int64_t *off)
{
    if (n == 0 || fd < 0)
        return false;
    hid_t ds = H5Dopen2(grp, name, H5P_DEFAULT);
    if (ds < 0)
        return false;
    hid_t ty = H5Dget_type(ds), dcpl = H5Dget_create_plist(ds);
    hid_t want = is_time ? H5T_STD_I64LE : H5T_IEEE_F64LE;
    hid_t native = is_time ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    haddr_t a = 0;
    if (ty >= 0 && dcpl >= 0 && H5Tequal(ty, want) > 0 && H5Tequal(native, want) > 0)
        a = s_run_start(ds, dcpl, n);
    struct stat st;
    bool ok = a != 0 && a % 8 == 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size >= a &&
              (uint64_t)st.st_size - a >= (uint64_t)n * 8;
    char *p = MAP_FAILED;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), lead = 0;
    if (ok) {
        lead = (size_t)(a % page);
        p = mmap(NULL, lead + n * 8, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd,
                 (off_t)(a - lead));
        ok = p != MAP_FAILED;
    }
    /* the first and last values as HDF5 reads them: the address is the data's */
    for (int k = 0; ok && k < 2; k++) {
        hsize_t at = k ? n - 1 : 0, one = 1;
        uint64_t v = 0;
        hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(1, &one, NULL);
        ok = fs >= 0 && ms >= 0 &&
             H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL) >= 0 &&
             H5Dread(ds, native, ms, fs, H5P_DEFAULT, &v) >= 0 &&
             memcmp(&v, p + lead + at * 8, 8) == 0;
        if (ms >= 0)
            H5Sclose(ms);
        if (fs >= 0)
            H5Sclose(fs);
    }
    if (!ok && p != MAP_FAILED)
        munmap(p, lead + n * 8);
    if (ok) {
        *data = p + lead;
        *map = p;
        *len = lead + n * 8;
        *off = (int64_t)(a - lead);
    }
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (ty >= 0)
        H5Tclose(ty);
    H5Dclose(ds);
    return ok;
}

int bt_store_map_hold(int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d >= 0 && flock(d, LOCK_SH | LOCK_NB) != 0) {
        close(d);
        d = -1;
    }
    return d;
}
