/* data/labels.c: CSV class labels, mini-MIAS circles, LabelMe points, boxes (see labels.h). */
#include "labels.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Reads a whole text file (NUL-terminated) into *buf. */
static mt_status slurp(const char *path, const char *what, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return MT_ERR(MT_ERR_IO, "%s: cannot open %s: %s", path, what, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = mt_malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n - 1, f);
        n += r;
        if (n + 1 < cap) break;
        cap *= 2;
        char *nb = mt_realloc(b, cap);
        if (!nb) free(b);
        b = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (!b) return MT_ERR_NOMEM;
    if (err) {
        free(b);
        return MT_ERR(MT_ERR_IO, "%s: read error on %s", path, what);
    }
    b[n] = '\0';
    *buf = b;
    if (len) *len = n;
    return MT_OK;
}

/* ---------------------------------------------------------------- CSV */

/* Splits one CSV record starting at *p into at most max fields (in place); advances *p
 * past the record's line end. Returns the number of fields. */
static int csv_record(char **p, char **fields, int max)
{
    char *s = *p, *w = s;
    int n = 0;
    fields[n++] = w;
    int quoted = 0;
    while (*s) {
        if (quoted) {
            if (*s == '"' && s[1] == '"') *w++ = '"', s += 2;
            else if (*s == '"') quoted = 0, s++;
            else *w++ = *s++;
        } else if (*s == '"') {
            quoted = 1, s++;
        } else if (*s == ',') {
            *w++ = '\0', s++;
            if (n < max) fields[n++] = w;
        } else if (*s == '\r' || *s == '\n') {
            if (*s == '\r' && s[1] == '\n') s++;
            s++;
            break;
        } else {
            *w++ = *s++;
        }
    }
    *w = '\0';
    *p = s;
    return n;
}

mt_status mt_labels_csv_read(const char *path, const char *key_column, const char *value_column,
                             mt_label_table *out)
{
    MT_REQUIRE(path && key_column && value_column && out, "mt_labels_csv_read: NULL argument");
    memset(out, 0, sizeof *out);
    snprintf(out->source, sizeof out->source, "%s", path);
    char *text;
    MT_TRY(slurp(path, "label CSV", &text, NULL));
    enum { MAXF = 256 };
    char *f[MAXF];
    char *p = text;
    if (!strncmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* UTF-8 byte-order mark */
    int nh = csv_record(&p, f, MAXF), kc = -1, vc = -1;
    for (int i = 0; i < nh; i++) {
        if (!strcmp(f[i], key_column)) kc = i;
        if (!strcmp(f[i], value_column)) vc = i;
    }
    mt_status s = MT_OK;
    if (kc < 0 || vc < 0) {
        s = MT_ERR(MT_ERR_FORMAT, "%s: header has no column \"%s\"", path, kc < 0 ? key_column : value_column);
        goto done;
    }
    int cap = 0, row = 1;
    while (*p) {
        row++;
        int nf = csv_record(&p, f, MAXF);
        if (nf == 1 && f[0][0] == '\0') continue; /* blank line */
        if (nf <= kc || nf <= vc) {
            s = MT_ERR(MT_ERR_FORMAT, "%s: row %d has %d fields, needs column %d", path, row, nf,
                       (kc > vc ? kc : vc) + 1);
            goto done;
        }
        if (mt_label_table_get(out, f[kc])) {
            s = MT_ERR(MT_ERR_FORMAT, "%s: row %d: duplicate key \"%s\" in column \"%s\"", path, row, f[kc],
                       key_column);
            goto done;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **k = mt_realloc(out->keys, sizeof(char *) * (size_t)cap);
            if (k) out->keys = k;
            char **v = k ? mt_realloc(out->values, sizeof(char *) * (size_t)cap) : NULL;
            if (v) out->values = v;
            if (!k || !v) {
                s = MT_ERR_NOMEM;
                goto done;
            }
        }
        out->keys[out->n] = mt_strdup(f[kc]);
        out->values[out->n] = mt_strdup(f[vc]);
        out->n++;
        if (!out->keys[out->n - 1] || !out->values[out->n - 1]) {
            s = MT_ERR_NOMEM;
            goto done;
        }
    }
done:
    free(text);
    if (s != MT_OK) mt_label_table_free(out);
    return s;
}

const char *mt_label_table_get(const mt_label_table *t, const char *key)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->keys[i], key)) return t->values[i];
    return NULL;
}

mt_status mt_label_table_class(const mt_label_table *t, const char *key, const char *const *class_names,
                               int n_classes, int *label)
{
    const char *v = mt_label_table_get(t, key);
    if (!v) return MT_ERR(MT_ERR_FORMAT, "missing label for \"%s\" in %s", key, t->source);
    for (int c = 0; c < n_classes; c++)
        if (!strcmp(v, class_names[c])) {
            *label = c;
            return MT_OK;
        }
    return MT_ERR(MT_ERR_FORMAT, "%s: label \"%s\" of \"%s\" is not one of the %d classes given", t->source, v, key,
                  n_classes);
}

void mt_label_table_free(mt_label_table *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->keys[i]);
        free(t->values[i]);
    }
    free(t->keys);
    free(t->values);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- mini-MIAS */

mt_status mt_mias_read(const char *path, mt_mias_table *out)
{
    MT_REQUIRE(path && out, "mt_mias_read: NULL argument");
    memset(out, 0, sizeof *out);
    char *text;
    MT_TRY(slurp(path, "MIAS Info.txt", &text, NULL));
    int cap = 0, line = 0;
    mt_status s = MT_OK;
    for (char *p = text, *nl; p && *p; p = nl) {
        nl = strchr(p, '\n');
        if (nl) *nl++ = '\0';
        line++;
        char ref[16], cls[8], bg[8], sev[8];
        double x, y, r;
        int k = sscanf(p, "%15s %7s %7s %7s %lf %lf %lf", ref, bg, cls, sev, &x, &y, &r);
        if (k <= 0 || !strcmp(ref, "REFNUM")) continue;
        if (k < 3 || (k > 4 && k < 7)) {
            s = MT_ERR(MT_ERR_FORMAT, "%s: line %d: expected REFNUM BG CLASS [SEVERITY X Y RADIUS], got \"%.60s\"",
                       path, line, p);
            break;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            mt_mias_row *nr = mt_realloc(out->rows, sizeof *nr * (size_t)cap);
            if (!nr) {
                s = MT_ERR_NOMEM;
                break;
            }
            out->rows = nr;
        }
        mt_mias_row *rw = &out->rows[out->n++];
        memset(rw, 0, sizeof *rw);
        snprintf(rw->refnum, sizeof rw->refnum, "%s", ref);
        rw->bg = bg[0];
        snprintf(rw->cls, sizeof rw->cls, "%s", cls);
        rw->severity = k >= 4 ? sev[0] : 0;
        rw->x = k == 7 ? (float)x : -1.0f;
        rw->y = k == 7 ? (float)y : -1.0f;
        rw->radius = k == 7 ? (float)r : -1.0f;
    }
    free(text);
    if (s != MT_OK) mt_mias_free(out);
    return s;
}

void mt_mias_free(mt_mias_table *t)
{
    free(t->rows);
    memset(t, 0, sizeof *t);
}

mt_status mt_mias_mask(const mt_mias_table *t, const char *refnum, int h, int w, uint8_t *mask, int *n_circles)
{
    MT_REQUIRE(t && refnum && mask && h > 0 && w > 0, "mt_mias_mask: bad arguments");
    memset(mask, 0, (size_t)h * (size_t)w);
    int rows = 0, drawn = 0;
    for (int i = 0; i < t->n; i++) {
        const mt_mias_row *r = &t->rows[i];
        if (strcmp(r->refnum, refnum)) continue;
        rows++;
        if (r->radius < 0) continue;
        double cx = r->x, cy = h - r->y, rr = (double)r->radius * r->radius;
        int y0 = (int)floor(cy - r->radius), y1 = (int)ceil(cy + r->radius);
        int x0 = (int)floor(cx - r->radius), x1 = (int)ceil(cx + r->radius);
        for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < h; y++)
            for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < w; x++)
                if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= rr) mask[(size_t)y * (size_t)w + (size_t)x] = 1;
        drawn++;
    }
    if (!rows) return MT_ERR(MT_ERR_INVALID, "no MIAS label row for %s", refnum);
    if (n_circles) *n_circles = drawn;
    return MT_OK;
}

mt_status mt_mias_boxes(const mt_mias_table *t, const char *refnum, int h, int w, float **boxes, int *n)
{
    MT_REQUIRE(t && refnum && boxes && n, "mt_mias_boxes: NULL argument");
    *boxes = NULL;
    *n = 0;
    int cnt = 0, rows = 0;
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].refnum, refnum)) rows++, cnt += t->rows[i].radius >= 0;
    if (!rows) return MT_ERR(MT_ERR_INVALID, "no MIAS label row for %s", refnum);
    if (!cnt) return MT_OK;
    float *b = mt_malloc(sizeof(float) * 5 * (size_t)cnt);
    if (!b) return MT_ERR_NOMEM;
    int k = 0;
    for (int i = 0; i < t->n; i++) {
        const mt_mias_row *r = &t->rows[i];
        if (strcmp(r->refnum, refnum) || r->radius < 0) continue;
        float cy = (float)h - r->y;
        b[5 * k + 0] = fmaxf(0.0f, r->x - r->radius);
        b[5 * k + 1] = fmaxf(0.0f, cy - r->radius);
        b[5 * k + 2] = fminf((float)(w - 1), r->x + r->radius);
        b[5 * k + 3] = fminf((float)(h - 1), cy + r->radius);
        b[5 * k + 4] = r->severity == 'M' ? 1.0f : 0.0f;
        k++;
    }
    *boxes = b;
    *n = k;
    return MT_OK;
}

mt_status mt_mias_woman(const char *refnum, char *out, size_t cap)
{
    MT_REQUIRE(refnum && out, "mt_mias_woman: NULL argument");
    char *end;
    long num = strncmp(refnum, "mdb", 3) ? -1 : strtol(refnum + 3, &end, 10);
    MT_REQUIRE(num >= 1 && refnum[3] >= '0' && refnum[3] <= '9' && *end == 0,
               "MIAS film name \"%s\" is not mdb<number> (no woman id)", refnum);
    int len = snprintf(out, cap, "mias_woman_%03ld", (num + 1) / 2);
    MT_REQUIRE(len > 0 && (size_t)len < cap, "mt_mias_woman: buffer of %zu bytes too small", cap);
    return MT_OK;
}

/* ---------------------------------------------------------------- LabelMe */

mt_status mt_labelme_read_points(const char *path, const char *const *names, int n_names, float *xy,
                                 int *n_found, int *image_h, int *image_w)
{
    MT_REQUIRE(path && (names || n_names == 0) && (xy || n_names == 0), "mt_labelme_read_points: NULL argument");
    char *text;
    MT_TRY(slurp(path, "LabelMe JSON", &text, NULL));
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return MT_ERR(MT_ERR_FORMAT, "%s: not valid JSON (LabelMe file expected)", path);
    mt_status s = MT_OK;
    const cJSON *shapes = cJSON_GetObjectItemCaseSensitive(root, "shapes");
    if (!cJSON_IsArray(shapes)) {
        s = MT_ERR(MT_ERR_FORMAT, "%s: no \"shapes\" array (not a LabelMe annotation?)", path);
        goto done;
    }
    for (int i = 0; i < 2 * n_names; i++) xy[i] = NAN;
    int found = 0;
    const cJSON *sh;
    cJSON_ArrayForEach(sh, shapes)
    {
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(sh, "label");
        const cJSON *pts = cJSON_GetObjectItemCaseSensitive(sh, "points");
        if (!cJSON_IsString(lab)) continue;
        for (int i = 0; i < n_names; i++) {
            if (strcmp(lab->valuestring, names[i]) || !isnan(xy[2 * i])) continue;
            const cJSON *p0 = cJSON_IsArray(pts) ? cJSON_GetArrayItem(pts, 0) : NULL;
            const cJSON *px = p0 ? cJSON_GetArrayItem(p0, 0) : NULL, *py = p0 ? cJSON_GetArrayItem(p0, 1) : NULL;
            if (!cJSON_IsNumber(px) || !cJSON_IsNumber(py)) {
                s = MT_ERR(MT_ERR_FORMAT, "%s: shape \"%s\" has no [x, y] point", path, names[i]);
                goto done;
            }
            xy[2 * i] = (float)px->valuedouble;
            xy[2 * i + 1] = (float)py->valuedouble;
            found++;
        }
    }
    if (n_found) *n_found = found;
    const cJSON *ih = cJSON_GetObjectItemCaseSensitive(root, "imageHeight");
    const cJSON *iw = cJSON_GetObjectItemCaseSensitive(root, "imageWidth");
    if (image_h) *image_h = cJSON_IsNumber(ih) ? ih->valueint : -1;
    if (image_w) *image_w = cJSON_IsNumber(iw) ? iw->valueint : -1;
done:
    cJSON_Delete(root);
    return s;
}

mt_status mt_labelme_labels(const char *path, char (*labels)[MT_LABELME_NAME], int cap, int *n)
{
    MT_REQUIRE(path && labels && n && *n >= 0, "mt_labelme_labels: NULL argument");
    char *text;
    MT_TRY(slurp(path, "LabelMe JSON", &text, NULL));
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return MT_ERR(MT_ERR_FORMAT, "%s: not valid JSON (LabelMe file expected)", path);
    const cJSON *shapes = cJSON_GetObjectItemCaseSensitive(root, "shapes");
    if (!cJSON_IsArray(shapes)) {
        cJSON_Delete(root);
        return MT_ERR(MT_ERR_FORMAT, "%s: no \"shapes\" array (not a LabelMe annotation?)", path);
    }
    const cJSON *sh;
    cJSON_ArrayForEach(sh, shapes)
    {
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(sh, "label");
        if (!cJSON_IsString(lab)) continue;
        int known = 0;
        for (int i = 0; i < *n && !known; i++) known = !strncmp(labels[i], lab->valuestring, MT_LABELME_NAME - 1);
        if (!known && *n < cap) snprintf(labels[(*n)++], MT_LABELME_NAME, "%s", lab->valuestring);
    }
    cJSON_Delete(root);
    return MT_OK;
}

mt_status mt_box_from_points(const float *xy, const int *idx, int n_idx, double margin, int h, int w,
                             float box[4])
{
    MT_REQUIRE(xy && idx && n_idx > 0 && box && h > 0 && w > 0 && margin >= 0, "mt_box_from_points: bad arguments");
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n_idx; i++) {
        double x = xy[2 * idx[i]], y = xy[2 * idx[i] + 1];
        MT_REQUIRE(!isnan(x) && !isnan(y), "mt_box_from_points: point %d is missing", idx[i]);
        MT_REQUIRE(x >= -0.5 && y >= -0.5 && x <= w - 0.5 && y <= h - 0.5,
                   "mt_box_from_points: point %d (%.1f, %.1f) lies outside the %dx%d image", idx[i], x, y, w, h);
        x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
    }
    double mx = (x1 - x0) * margin, my = (y1 - y0) * margin;
    box[0] = (float)fmax(0.0, x0 - mx);
    box[1] = (float)fmax(0.0, y0 - my);
    box[2] = (float)fmin(w - 1.0, x1 + mx);
    box[3] = (float)fmin(h - 1.0, y1 + my);
    return MT_OK;
}
