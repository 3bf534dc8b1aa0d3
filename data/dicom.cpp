/* data/dicom.cpp: thin C wrapper over GDCM (see dicom.h). The only C++ file of
 * medtrain: every GDCM call runs inside try/catch and failures become mt_status
 * with a message naming the file. */
#include "dicom.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <iostream>
#include <memory>
#include <exception>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <gdcmByteValue.h>
#include <gdcmImage.h>
#include <gdcmImageReader.h>
#include <gdcmPhotometricInterpretation.h>
#include <gdcmPixelFormat.h>
#include <gdcmStringFilter.h>
#include <gdcmTag.h>
#include <gdcmTrace.h>

namespace {

/* Trimmed string value of a tag ("" if absent). */
std::string tag_string(gdcm::StringFilter &sf, const gdcm::DataSet &ds, uint16_t g, uint16_t e)
{
    gdcm::Tag t(g, e);
    if (!ds.FindDataElement(t) || ds.GetDataElement(t).IsEmpty()) return std::string();
    std::string s = sf.ToString(t);
    size_t b = s.find_first_not_of(" \t\r\n");
    size_t f = s.find_last_not_of(" \t\r\n");
    if (b == std::string::npos) return std::string();
    s = s.substr(b, f - b + 1);
    while (!s.empty() && s.back() == '\0') s.pop_back();
    return s;
}

/* Parses up to n backslash-separated decimal strings; returns how many were read. */
int parse_ds(const std::string &s, double *v, int n)
{
    int k = 0;
    const char *p = s.c_str();
    while (k < n && *p) {
        char *end = nullptr;
        double x = strtod(p, &end);
        if (end == p) break;
        v[k++] = x;
        p = end;
        while (*p == ' ') p++;
        if (*p == '\\') p++;
        else break;
    }
    return k;
}

/* One decoded slice: values in modality units plus geometry. */
struct slice {
    std::string path;
    int rows = 0, cols = 0;
    std::vector<float> px;
    mt_meta meta;
    bool has_ipp = false, has_iop = false;
    double ipp[3] = {0, 0, 0};        /* LPS */
    double iop[6] = {1, 0, 0, 0, 1, 0}; /* LPS row cosine, column cosine */
    double pos = 0;                   /* IPP . normal */
};

void set_str(char *dst, size_t cap, const std::string &s)
{
    snprintf(dst, cap, "%s", s.c_str());
}

/* ---- pre-parser: GDCM asserts (aborts the process) on some truncated files, so the
 * structure is checked before GDCM sees the file: preamble + "DICM" (or a plausible
 * implicit-VR start), the File Meta group inside the file, and every element, item
 * and encapsulated pixel-data fragment ending inside the file, with the sequence
 * delimiters present. */
struct pre_reader {
    const unsigned char *b;
    size_t size;
    bool big = false;
    std::string err;
    /* top-level image geometry seen by walk (0 = absent): Rows, Columns, Samples per
     * Pixel, Bits Allocated, Number of Frames; the Pixel Data length (-1 = undefined) */
    uint32_t rows = 0, cols = 0, spp = 0, bits = 0, frames = 0;
    long long pixel_len = -2;
    void note(uint16_t g, uint16_t e, size_t at, uint32_t len)
    {
        if (g == 0x7FE0 && e == 0x0010) pixel_len = len == 0xFFFFFFFFu ? -1 : (long long)len;
        if (g != 0x0028) return;
        if (len == 2 && (e == 0x0010 || e == 0x0011 || e == 0x0002 || e == 0x0100)) {
            uint32_t v = u16(at);
            if (e == 0x0010) rows = v;
            else if (e == 0x0011) cols = v;
            else if (e == 0x0002) spp = v;
            else bits = v;
        } else if (e == 0x0008 && len > 0 && len < 16) { /* Number of Frames, IS */
            char t[16];
            memcpy(t, b + at, len);
            t[len] = '\0';
            frames = (uint32_t)strtoul(t, NULL, 10);
        }
    }
    uint16_t u16(size_t at) const
    {
        return big ? (uint16_t)(b[at] << 8 | b[at + 1]) : (uint16_t)(b[at] | b[at + 1] << 8);
    }
    uint32_t u32(size_t at) const
    {
        return big ? ((uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 | (uint32_t)b[at + 2] << 8 | b[at + 3])
                   : ((uint32_t)b[at] | (uint32_t)b[at + 1] << 8 | (uint32_t)b[at + 2] << 16 |
                      (uint32_t)b[at + 3] << 24);
    }
    bool fail(size_t at, const char *what, uint16_t g, uint16_t e)
    {
        char m[256];
        snprintf(m, sizeof m, "%s (%04X,%04X) at byte %zu runs past the end of the file (%zu bytes): truncated file",
                 what, g, e, at, size);
        err = m;
        return false;
    }
    static bool known_vr(const unsigned char *vr)
    {
        static const char *const k[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO",
                                        "LT", "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ",
                                        "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};
        for (const char *v : k)
            if (vr[0] == v[0] && vr[1] == v[1]) return true;
        return false;
    }
    static bool long_vr(const unsigned char *vr)
    {
        static const char *const l[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"};
        for (const char *v : l)
            if (vr[0] == v[0] && vr[1] == v[1]) return true;
        return false;
    }
    /* Walks elements from *pos up to `end` (or to an item/sequence delimiter when
     * `end` is the file size and `delim` is true). */
    bool walk(size_t *pos, size_t end, bool implicit, int depth, bool delim, bool frag = false)
    {
        if (depth > 64) {
            err = "sequences nested more than 64 deep";
            return false;
        }
        while (*pos < end) {
            size_t at = *pos;
            if (at + 8 > end) return fail(at, "element header", 0, 0);
            uint16_t g = u16(at), e = u16(at + 2);
            if (g == 0xFFFE) { /* item / delimiter: tag + 4-byte length, no VR */
                uint32_t len = u32(at + 4);
                *pos = at + 8;
                if (e == 0xE00D || e == 0xE0DD) {
                    if (delim) return true;
                    continue;
                }
                if (e != 0xE000) {
                    err = "unexpected (FFFE," + std::to_string(e) + ") tag";
                    return false;
                }
                if (len == 0xFFFFFFFFu) {
                    if (frag) {
                        err = "encapsulated Pixel Data fragment of undefined length";
                        return false;
                    }
                    if (!walk(pos, end, implicit, depth + 1, true)) return false;
                } else if (frag) { /* a compressed fragment: opaque bytes */
                    if ((size_t)len > end - *pos) return fail(at, "Pixel Data fragment", g, e);
                    *pos += len;
                } else {
                    if ((size_t)len > end - *pos) return fail(at, "sequence item", g, e);
                    size_t p2 = *pos;
                    if (!walk(&p2, *pos + len, implicit, depth + 1, false)) return false;
                    *pos += len;
                }
                continue;
            }
            bool sq = false;
            uint32_t len;
            size_t hdr;
            if (implicit) {
                len = u32(at + 4);
                hdr = 8;
            } else {
                const unsigned char *vr = b + at + 4;
                if (!known_vr(vr)) { /* GDCM asserts on an unknown VR in the File Meta (fuzz_dicom) */
                    char m[160];
                    snprintf(m, sizeof m, "element (%04X,%04X) at byte %zu has no valid VR (corrupt or truncated file)",
                             g, e, at);
                    err = m;
                    return false;
                }
                sq = vr[0] == 'S' && vr[1] == 'Q';
                if (long_vr(vr)) {
                    if (at + 12 > end) return fail(at, "element header", g, e);
                    len = u32(at + 8);
                    hdr = 12;
                } else {
                    len = u16(at + 6);
                    hdr = 8;
                }
            }
            *pos = at + hdr;
            if (len == 0xFFFFFFFFu && depth == 0) note(g, e, *pos, len);
            if (len == 0xFFFFFFFFu) {
                /* undefined length: a sequence (SQ, or UN / implicit holding one) or
                 * encapsulated Pixel Data (a sequence of fragments) */
                bool px = g == 0x7FE0 && e == 0x0010;
                bool imp = implicit || (!sq && !px);
                if (!walk(pos, end, imp, depth + 1, true, px)) {
                    if (err.empty() || err.find("runs past") != std::string::npos || err == "eof") {
                        char m[256];
                        snprintf(m, sizeof m, "%s (%04X,%04X) at byte %zu has no end (sequence delimiter missing): "
                                 "truncated file", g == 0x7FE0 ? "encapsulated Pixel Data" : "sequence", g, e, at);
                        err = m;
                    }
                    return false;
                }
                continue;
            }
            if ((size_t)len > end - *pos) return fail(at, g == 0x7FE0 ? "Pixel Data" : "element", g, e);
            if (depth == 0) note(g, e, *pos, len);
            if (g == 0x0028 && e == 0x0002 && len == 2 && (u16(*pos) == 0 || u16(*pos) > 4)) {
                /* GDCM asserts (aborts) on SamplesPerPixel above 4 (fuzz_dicom) */
                err = "SamplesPerPixel (0028,0002) is " + std::to_string(u16(*pos)) +
                      " (1 to 4 allowed): corrupt or truncated file";
                return false;
            }
            if (sq) {
                size_t p2 = *pos;
                if (!walk(&p2, *pos + len, implicit, depth + 1, false)) return false;
            }
            *pos += len;
        }
        if (delim) {
            err = "eof";
            return false;
        }
        return true;
    }
};

/* The decoded image a header promises, against MEDTRAIN_DICOM_MAX_PIXELS (default 2^28:
 * a 16384 x 16384 image, 1 GiB of float32) and, for uncompressed Pixel Data, against the
 * bytes actually present: a small fuzzed header must not make the decoder allocate GBs, and
 * GDCM's RAW codec copies Rows x Columns x BitsAllocated bytes from the element whatever its
 * length (a heap overflow fuzz_dicom found: Rows 6 -> 1542, tests/data/bad/README.md). */
mt_status check_image_size(const char *path, const pre_reader &pr)
{
    if (pr.pixel_len == -2) return MT_OK; /* no Pixel Data: GDCM reports it */
    double frames = pr.frames ? pr.frames : 1, spp = pr.spp ? pr.spp : 1;
    double pixels = (double)pr.rows * pr.cols * frames * spp;
    double limit = 268435456.0;
    const char *env = getenv("MEDTRAIN_DICOM_MAX_PIXELS");
    if (env && atof(env) > 0) limit = atof(env);
    if (pr.rows == 0 || pr.cols == 0)
        return MT_ERR(MT_ERR_IO, "%s: Rows (0028,0010) or Columns (0028,0011) is missing or 0", path);
    if (pixels > limit)
        return MT_ERR(MT_ERR_IO, "%s: the header declares %u x %u x %g frames x %g samples = %.0f pixels, over the "
                      "limit of %.0f (raise it with the environment variable MEDTRAIN_DICOM_MAX_PIXELS)",
                      path, pr.rows, pr.cols, frames, spp, pixels, limit);
    double need = pixels * (pr.bits ? pr.bits : 16) / 8.0;
    if (pr.pixel_len >= 0 && (double)pr.pixel_len + 1 < need)
        return MT_ERR(MT_ERR_IO, "%s: Pixel Data holds %lld bytes but Rows x Columns x frames x samples x Bits "
                      "Allocated needs %.0f (truncated or corrupt file)", path, pr.pixel_len, need);
    return MT_OK;
}

mt_status precheck(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return MT_ERR(MT_ERR_IO, "%s: cannot open DICOM file: %s", path, strerror(errno));
    std::vector<unsigned char> buf;
    unsigned char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) buf.insert(buf.end(), chunk, chunk + r);
    bool rerr = ferror(f);
    fclose(f);
    if (rerr) return MT_ERR(MT_ERR_IO, "%s: read error", path);
    pre_reader pr;
    pr.b = buf.data();
    pr.size = buf.size();
    size_t pos;
    bool implicit = true;
    if (buf.size() >= 132 && !memcmp(buf.data() + 128, "DICM", 4)) {
        /* File Meta: explicit VR little endian, (0002,0000) group length first */
        pos = 132;
        if (pos + 12 > buf.size() || pr.u16(pos) != 0x0002 || pr.u16(pos + 2) != 0x0000)
            return MT_ERR(MT_ERR_IO, "%s: DICOM File Meta Information has no group length (0002,0000) "
                          "(corrupt or truncated file of %zu bytes)", path, buf.size());
        /* the group length element itself: GDCM reads it with the length it declares and
         * asserts (aborts) when that runs past the end (fuzz_dicom, tests/data/bad/README.md) */
        if (buf[pos + 4] != 'U' || buf[pos + 5] != 'L' || pr.u16(pos + 6) != 4)
            return MT_ERR(MT_ERR_IO, "%s: DICOM File Meta group length (0002,0000) is not a 4-byte UL element "
                          "(VR '%c%c', length %u): corrupt or truncated file", path,
                          isprint(buf[pos + 4]) ? buf[pos + 4] : '?', isprint(buf[pos + 5]) ? buf[pos + 5] : '?',
                          (unsigned)pr.u16(pos + 6));
        uint32_t glen = pr.u32(pos + 8);
        size_t meta_end = pos + 12 + glen;
        if (glen > buf.size() || meta_end > buf.size())
            return MT_ERR(MT_ERR_IO, "%s: DICOM File Meta Information of %u bytes runs past the end of the file "
                          "(%zu bytes): truncated file", path, glen, buf.size());
        pos += 12;
        std::string ts;
        size_t p = pos;
        if (!pr.walk(&p, meta_end, false, 0, false))
            return MT_ERR(MT_ERR_IO, "%s: DICOM File Meta Information: %s", path, pr.err.c_str());
        /* transfer syntax (0002,0010) */
        for (p = pos; p + 8 <= meta_end;) {
            uint16_t g = pr.u16(p), e = pr.u16(p + 2);
            bool lv = pre_reader::long_vr(buf.data() + p + 4);
            uint32_t len = lv ? pr.u32(p + 8) : pr.u16(p + 6);
            size_t h = lv ? 12 : 8;
            if (g == 0x0002 && e == 0x0010) ts.assign((const char *)buf.data() + p + h, len);
            p += h + len;
        }
        while (!ts.empty() && (ts.back() == '\0' || ts.back() == ' ')) ts.pop_back();
        pos = meta_end;
        if (ts == "1.2.840.10008.1.2.1.99") return MT_OK; /* deflated: GDCM inflates and checks */
        implicit = ts == "1.2.840.10008.1.2";
        pr.big = ts == "1.2.840.10008.1.2.2";
    } else {
        /* no preamble: accept only a plausible implicit VR little endian data set */
        pos = 0;
        if (buf.size() < 8 || !(pr.u16(0) == 0x0008 || pr.u16(0) == 0x0002))
            return MT_ERR(MT_ERR_IO, "%s: not a DICOM file (no \"DICM\" at byte 128 and no data set at the start; "
                          "%zu bytes)", path, buf.size());
        implicit = !(isupper(buf[4]) && isupper(buf[5]));
    }
    if (!pr.walk(&pos, buf.size(), implicit, 0, false))
        return MT_ERR(MT_ERR_IO, "%s: %s", path, pr.err.c_str());
    return check_image_size(path, pr);
}

/* Decodes `path` into `sl` with GDCM, in this process (decode_isolated runs it in a child). */
mt_status decode(const char *path, slice &sl)
{
    /* GDCM reports a short native Pixel Data element only as a warning on its global
     * trace stream, so reads are serialised and the warnings captured. */
    static std::mutex trace_lock;
    std::lock_guard<std::mutex> guard(trace_lock);
    std::ostringstream warnings;
    gdcm::Trace::SetWarningStream(warnings);
    gdcm::Trace::SetErrorStream(warnings);
    gdcm::ImageReader reader;
    reader.SetFileName(path);
    bool ok = reader.Read();
    gdcm::Trace::SetWarningStream(std::cerr);
    gdcm::Trace::SetErrorStream(std::cerr);
    if (!ok)
        return MT_ERR(MT_ERR_IO, "%s: not a readable DICOM image (GDCM could not parse it; "
                      "truncated, not DICOM, or no pixel data)", path);
    if (warnings.str().find("Incomplete Pixel Data") != std::string::npos)
        return MT_ERR(MT_ERR_IO, "%s: Pixel Data is shorter than its header says (truncated file)", path);
    const gdcm::Image &img = reader.GetImage();
    const gdcm::DataSet &ds = reader.GetFile().GetDataSet();
    gdcm::StringFilter sf;
    sf.SetFile(reader.GetFile());

    const unsigned int *dims = img.GetDimensions();
    if (img.GetNumberOfDimensions() > 2 && dims[2] > 1)
        return MT_ERR(MT_ERR_UNSUPPORTED, "%s: multi-frame DICOM (%u frames) is not supported", path, dims[2]);
    gdcm::PixelFormat pf = img.GetPixelFormat();
    if (pf.GetSamplesPerPixel() != 1)
        return MT_ERR(MT_ERR_UNSUPPORTED, "%s: %d samples per pixel (colour) is not supported; need grey level",
                      path, (int)pf.GetSamplesPerPixel());
    int cols = (int)dims[0], rows = (int)dims[1];
    if (rows <= 0 || cols <= 0) return MT_ERR(MT_ERR_FORMAT, "%s: image has size %dx%d", path, cols, rows);
    int alloc = (int)pf.GetBitsAllocated(), stored = (int)pf.GetBitsStored();
    int is_signed = pf.GetPixelRepresentation() == 1;
    if (alloc != 8 && alloc != 16 && alloc != 32)
        return MT_ERR(MT_ERR_UNSUPPORTED, "%s: BitsAllocated %d is not supported (8, 16 or 32)", path, alloc);
    if (stored <= 0 || stored > alloc) stored = alloc;

    size_t n = (size_t)rows * (size_t)cols;
    size_t need = n * (size_t)(alloc / 8);
    size_t len = img.GetBufferLength();
    if (len < need)
        return MT_ERR(MT_ERR_IO, "%s: pixel data holds %zu bytes, %dx%d pixels of %d bits need %zu (truncated?)",
                      path, len, cols, rows, alloc, need);
    std::vector<char> buf(len);
    if (!img.GetBuffer(buf.data()))
        return MT_ERR(MT_ERR_IO, "%s: could not decode the pixel data (truncated or corrupt compressed stream, "
                      "transfer syntax %s)", path, gdcm::TransferSyntax::GetTSString(img.GetTransferSyntax()));

    double slope = 1.0, intercept = 0.0, v[6];
    if (parse_ds(tag_string(sf, ds, 0x0028, 0x1053), v, 1) == 1) slope = v[0];
    if (parse_ds(tag_string(sf, ds, 0x0028, 0x1052), v, 1) == 1) intercept = v[0];

    sl.path = path;
    sl.rows = rows;
    sl.cols = cols;
    sl.px.resize(n);
    /* MONOCHROME1: the minimum stored value is displayed white. Invert on the stored values,
     * before the rescale, over the range BitsStored can hold (unsigned 0..2^b-1, signed
     * -2^(b-1)..2^(b-1)-1): x -> (lo + hi) - x, so that higher = brighter as for MONOCHROME2. */
    bool mono1 = img.GetPhotometricInterpretation() == gdcm::PhotometricInterpretation::MONOCHROME1;
    double inv_sum = is_signed ? -1.0 : std::ldexp(1.0, stored) - 1.0;
    int shift = alloc - stored; /* sign extension from bit `stored-1` (pydicom does the same) */
    for (size_t i = 0; i < n; i++) {
        double x;
        if (alloc == 8) {
            uint8_t u = (uint8_t)buf[i];
            x = is_signed ? (double)(int8_t)u : (double)u;
        } else if (alloc == 16) {
            uint16_t u;
            memcpy(&u, buf.data() + 2 * i, 2);
            if (is_signed) x = (double)(int16_t)((int16_t)(u << shift) >> shift);
            else x = (double)u;
        } else {
            uint32_t u;
            memcpy(&u, buf.data() + 4 * i, 4);
            if (is_signed) x = (double)(int32_t)((int32_t)(u << shift) >> shift);
            else x = (double)u;
        }
        if (mono1) x = inv_sum - x;
        sl.px[i] = (float)(x * slope + intercept);
    }

    mt_meta &m = sl.meta;
    mt_meta_init(&m);
    set_str(m.source, sizeof m.source, path);
    set_str(m.patient_id, sizeof m.patient_id, tag_string(sf, ds, 0x0010, 0x0020));
    std::string sex = tag_string(sf, ds, 0x0010, 0x0040);
    if (sex == "M" || sex == "F" || sex == "O") set_str(m.sex, sizeof m.sex, sex);
    m.age_years = mt_dicom_parse_age(tag_string(sf, ds, 0x0010, 0x1010).c_str());
    if (parse_ds(tag_string(sf, ds, 0x0010, 0x1020), v, 1) == 1 && v[0] > 0) m.height_m = (float)v[0];
    if (parse_ds(tag_string(sf, ds, 0x0010, 0x1030), v, 1) == 1 && v[0] > 0) m.weight_kg = (float)v[0];
    if (parse_ds(tag_string(sf, ds, 0x0028, 0x0030), v, 2) == 2) { /* PixelSpacing = row\column spacing */
        m.spacing[0] = v[1];
        m.spacing[1] = v[0];
    }
    if (parse_ds(tag_string(sf, ds, 0x0018, 0x0050), v, 1) == 1) m.spacing[2] = v[0];
    sl.has_ipp = parse_ds(tag_string(sf, ds, 0x0020, 0x0032), sl.ipp, 3) == 3;
    sl.has_iop = parse_ds(tag_string(sf, ds, 0x0020, 0x0037), sl.iop, 6) == 6;
    const double *r = sl.iop, *c = sl.iop + 3;
    double nrm[3] = {r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]};
    /* LPS -> RAS: negate x and y of every point and direction. */
    for (int a = 0; a < 3; a++) {
        double s = a < 2 ? -1.0 : 1.0;
        m.direction[a * 3 + 0] = s * r[a];
        m.direction[a * 3 + 1] = s * c[a];
        m.direction[a * 3 + 2] = s * nrm[a];
        m.origin[a] = s * sl.ipp[a];
    }
    if (sl.has_ipp) {
        sl.pos = sl.ipp[0] * nrm[0] + sl.ipp[1] * nrm[1] + sl.ipp[2] * nrm[2];
        m.slice_position = sl.pos;
    }
    return MT_OK;
}

} // namespace

/* ---- isolation: GDCM asserts (aborts the process) on some malformed files the pre-parser
 * lets through, and fuzzed files of a few KB can make it allocate gigabytes
 * (tests/fuzz/README.md). So each file is decoded in a child process (fork) under an
 * address-space limit of MEDTRAIN_DICOM_MAX_MEMORY bytes above the parent's (default 2 GiB);
 * the child sends the decoded slice back through a pipe. A child killed by a signal (an
 * assertion, an allocation past the limit) becomes an error naming the file, and the
 * caller's process, its import and its temporary files are unaffected.
 * MEDTRAIN_DICOM_IN_PROCESS=1 decodes in this process (debugging; GDCM aborts then kill it). */
struct wire_header {
    int status, rows, cols, has_ipp, has_iop;
    double ipp[3], iop[6], pos;
    mt_meta meta;
    uint64_t n_px;
    char where[256];  /* "file:line" of the child's error */
    char msg[1800];   /* its message */
};

bool write_all(int fd, const void *p, size_t n)
{
    const char *c = (const char *)p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        c += w, n -= (size_t)w;
    }
    return true;
}

bool read_all(int fd, void *p, size_t n)
{
    char *c = (char *)p;
    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        c += r, n -= (size_t)r;
    }
    return true;
}

/* the child: decode, send the header (and pixels), exit without running atexit handlers */
[[noreturn]] void child_decode(const char *path, int fd)
{
    double budget = 2.0 * 1024 * 1024 * 1024;
    if (const char *e = getenv("MEDTRAIN_DICOM_MAX_MEMORY")) budget = atof(e) > 0 ? atof(e) : budget;
    long pages = 0;
    if (FILE *f = fopen("/proc/self/statm", "r")) {
        if (fscanf(f, "%ld", &pages) != 1) pages = 0;
        fclose(f);
    }
    struct rlimit rl, cur;
    rl.rlim_cur = rl.rlim_max = (rlim_t)((double)pages * (double)sysconf(_SC_PAGESIZE) + budget);
    if (getrlimit(RLIMIT_AS, &cur) == 0 && cur.rlim_cur != RLIM_INFINITY && cur.rlim_cur < rl.rlim_cur)
        rl = cur; /* never raise a limit the caller set (e.g. `ulimit -v`) */
    setrlimit(RLIMIT_AS, &rl);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2); /* GDCM's own assertion text: the parent reports it */
    static wire_header h;
    memset(&h, 0, sizeof h);
    slice sl;
    mt_status st;
    try {
        st = decode(path, sl);
    } catch (const std::bad_alloc &) {
        st = MT_ERR(MT_ERR_NOMEM, "%s: GDCM ran out of memory decoding this file (limit MEDTRAIN_DICOM_MAX_MEMORY "
                    "%.0f bytes): corrupt or hostile file", path, budget);
    } catch (const std::exception &e) {
        st = MT_ERR(MT_ERR_IO, "%s: GDCM error: %s", path, e.what());
    } catch (...) {
        st = MT_ERR(MT_ERR_IO, "%s: unknown GDCM error while reading", path);
    }
    h.status = (int)st;
    if (st != MT_OK) {
        const char *m = mt_last_error(), *sep = strstr(m, ": ");
        snprintf(h.where, sizeof h.where, "%.*s", sep ? (int)(sep - m) : 0, m);
        snprintf(h.msg, sizeof h.msg, "%s", sep ? sep + 2 : m);
    } else {
        h.rows = sl.rows, h.cols = sl.cols, h.has_ipp = sl.has_ipp, h.has_iop = sl.has_iop, h.pos = sl.pos;
        memcpy(h.ipp, sl.ipp, sizeof h.ipp);
        memcpy(h.iop, sl.iop, sizeof h.iop);
        h.meta = sl.meta;
        h.n_px = sl.px.size();
    }
    bool ok = write_all(fd, &h, sizeof h) && (st != MT_OK || write_all(fd, sl.px.data(), sl.px.size() * sizeof(float)));
    _exit(ok ? 0 : 3);
}

mt_status decode_isolated(const char *path, slice &sl)
{
    const char *inproc = getenv("MEDTRAIN_DICOM_IN_PROCESS");
    if (inproc && inproc[0] == '1') return decode(path, sl);
    int fd[2];
    if (pipe(fd) != 0) return MT_ERR(MT_ERR_IO, "%s: cannot create a pipe for the DICOM decoder: %s", path, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return MT_ERR(MT_ERR_IO, "%s: cannot start the DICOM decoder process: %s", path, strerror(errno));
    }
    if (pid == 0) {
        close(fd[0]);
        child_decode(path, fd[1]);
    }
    close(fd[1]);
    std::unique_ptr<wire_header> hp(new (std::nothrow) wire_header());
    if (!hp) {
        close(fd[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return MT_ERR_NOMEM;
    }
    wire_header &h = *hp;
    bool got = read_all(fd[0], &h, sizeof h);
    if (got && h.status == MT_OK) {
        sl.px.resize((size_t)h.n_px);
        got = read_all(fd[0], sl.px.data(), sl.px.size() * sizeof(float));
    }
    close(fd[0]);
    int wst = 0;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(wst))
        return MT_ERR(MT_ERR_FORMAT, "%s: GDCM crashed decoding this file (signal %d, %s: an internal assertion or "
                      "more memory than MEDTRAIN_DICOM_MAX_MEMORY allows): a malformed DICOM file",
                      path, WTERMSIG(wst), strsignal(WTERMSIG(wst)));
    if (!got || !WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
        return MT_ERR(MT_ERR_IO, "%s: the DICOM decoder process ended without a result (exit %d)", path,
                      WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    if (h.status != MT_OK) {
        char file[256];
        int line = 0;
        const char *colon = strrchr(h.where, ':');
        snprintf(file, sizeof file, "%.*s", colon ? (int)(colon - h.where) : 0, h.where);
        if (colon) line = atoi(colon + 1);
        return mt_error_set((mt_status)h.status, file[0] ? file : __FILE__, file[0] ? line : __LINE__, "%s", h.msg);
    }
    sl.rows = h.rows, sl.cols = h.cols, sl.has_ipp = h.has_ipp, sl.has_iop = h.has_iop, sl.pos = h.pos;
    memcpy(sl.ipp, h.ipp, sizeof h.ipp);
    memcpy(sl.iop, h.iop, sizeof h.iop);
    sl.meta = h.meta;
    sl.path = path;
    return MT_OK;
}

/* Reads and decodes `path` into `sl`: pre-parser, then GDCM in a child process. */
mt_status read_one(const char *path, slice &sl)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return MT_ERR(MT_ERR_IO, "%s: cannot open DICOM file: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return MT_ERR(MT_ERR_IO, "%s: not a regular file", path);
    MT_TRY(precheck(path));
    return decode_isolated(path, sl);
}

extern "C" float mt_dicom_parse_age(const char *as)
{
    if (!as || !*as) return -1.0f;
    char *end = nullptr;
    long n = strtol(as, &end, 10);
    if (end == as || n < 0) return -1.0f;
    switch (*end) {
    case 'Y': case 'y': case '\0': return (float)n;
    case 'M': case 'm': return (float)n / 12.0f;
    case 'W': case 'w': return (float)n * 7.0f / 365.25f;
    case 'D': case 'd': return (float)n / 365.25f;
    default: return -1.0f;
    }
}

extern "C" mt_status mt_dicom_read_slice(const char *path, mt_sample *out)
{
    if (!path || !out) return MT_ERR(MT_ERR_INVALID, "mt_dicom_read_slice: NULL argument");
    mt_sample_free(out);
    try {
        slice sl;
        MT_TRY(read_one(path, sl));
        float *img = (float *)mt_malloc(sl.px.size() * sizeof(float));
        if (!img) return MT_ERR_NOMEM;
        memcpy(img, sl.px.data(), sl.px.size() * sizeof(float));
        out->c = 1;
        out->h = sl.rows;
        out->w = sl.cols;
        out->image = img;
        out->meta = sl.meta;
        return MT_OK;
    } catch (const std::exception &e) {
        return MT_ERR(MT_ERR_IO, "%s: GDCM error: %s", path, e.what());
    } catch (...) {
        return MT_ERR(MT_ERR_IO, "%s: unknown GDCM error while reading", path);
    }
}

extern "C" mt_status mt_dicom_read_series(const char *dir, mt_volume *out)
{
    if (!dir || !out) return MT_ERR(MT_ERR_INVALID, "mt_dicom_read_series: NULL argument");
    memset(out, 0, sizeof *out);
    try {
        DIR *d = opendir(dir);
        if (!d) return MT_ERR(MT_ERR_IO, "%s: cannot open DICOM series folder: %s", dir, strerror(errno));
        std::vector<std::string> names;
        while (struct dirent *e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            std::string p = std::string(dir) + "/" + e->d_name;
            struct stat st;
            if (stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.push_back(p);
        }
        closedir(d);
        if (names.empty()) return MT_ERR(MT_ERR_IO, "%s: folder holds no files (expected a DICOM series)", dir);
        std::sort(names.begin(), names.end());

        std::vector<slice> sl(names.size());
        for (size_t i = 0; i < names.size(); i++) {
            MT_TRY(read_one(names[i].c_str(), sl[i]));
            if (!sl[i].has_ipp || !sl[i].has_iop)
                return MT_ERR(MT_ERR_FORMAT, "%s: no ImagePositionPatient/ImageOrientationPatient; "
                              "cannot order the series in %s", names[i].c_str(), dir);
            const slice &a = sl[0], &b = sl[i];
            if (b.rows != a.rows || b.cols != a.cols)
                return MT_ERR(MT_ERR_FORMAT, "%s: %dx%d pixels but %s has %dx%d (mixed series in %s?)",
                              b.path.c_str(), b.cols, b.rows, a.path.c_str(), a.cols, a.rows, dir);
            for (int k = 0; k < 6; k++)
                if (std::fabs(b.iop[k] - a.iop[k]) > 1e-4)
                    return MT_ERR(MT_ERR_FORMAT, "%s: ImageOrientationPatient differs from %s (mixed series in %s?)",
                                  b.path.c_str(), a.path.c_str(), dir);
            if (std::fabs(b.meta.spacing[0] - a.meta.spacing[0]) > 1e-4 ||
                std::fabs(b.meta.spacing[1] - a.meta.spacing[1]) > 1e-4)
                return MT_ERR(MT_ERR_FORMAT, "%s: PixelSpacing differs from %s", b.path.c_str(), a.path.c_str());
        }
        std::stable_sort(sl.begin(), sl.end(), [](const slice &a, const slice &b) { return a.pos < b.pos; });
        std::vector<double> gaps;
        for (size_t i = 1; i < sl.size(); i++) {
            double g = sl[i].pos - sl[i - 1].pos;
            if (g < 1e-3)
                return MT_ERR(MT_ERR_FORMAT, "%s and %s: same slice position %.3f mm (duplicate slice?)",
                              sl[i - 1].path.c_str(), sl[i].path.c_str(), sl[i].pos);
            gaps.push_back(g);
        }
        size_t n = (size_t)sl[0].rows * (size_t)sl[0].cols;
        float *data = (float *)mt_malloc(n * sl.size() * sizeof(float));
        if (!data) return MT_ERR_NOMEM;
        for (size_t i = 0; i < sl.size(); i++) memcpy(data + i * n, sl[i].px.data(), n * sizeof(float));
        out->nx = sl[0].cols;
        out->ny = sl[0].rows;
        out->nz = (int)sl.size();
        out->data = data;
        out->meta = sl[0].meta;
        set_str(out->meta.source, sizeof out->meta.source, dir);
        if (!gaps.empty()) {
            std::sort(gaps.begin(), gaps.end());
            out->meta.spacing[2] = gaps[gaps.size() / 2];
        }
        return MT_OK;
    } catch (const std::exception &e) {
        mt_volume_free(out);
        return MT_ERR(MT_ERR_IO, "%s: GDCM error: %s", dir, e.what());
    } catch (...) {
        mt_volume_free(out);
        return MT_ERR(MT_ERR_IO, "%s: unknown GDCM error while reading the series", dir);
    }
}
