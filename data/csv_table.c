/* data/csv_table.c: the small CSV table reader (csv_table.h). */
#include "csv_table.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void mt_csv_free(mt_csv *c)
{
    for (int r = 0; r < c->n_rows; r++) free(c->cells[r]);
    free(c->cells);
    free(c->n_cells);
    free(c->line);
    free(c->text);
    memset(c, 0, sizeof *c);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') s[n - 1] = '\0', s++;
    return s;
}

mt_status mt_csv_read(const char *path, mt_csv *c)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) return MT_ERR(MT_ERR_IO, "cannot open CSV %s", path);
    size_t cap = 4096, len = 0;
    c->text = mt_malloc(cap);
    size_t got;
    while (c->text && (got = fread(c->text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *t = mt_realloc(c->text, cap *= 2);
            if (!t) free(c->text);
            c->text = t;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!c->text) return mt_last_status();
    if (err) return mt_csv_free(c), MT_ERR(MT_ERR_IO, "cannot read CSV %s", path);
    c->text[len] = '\0';
    int lines = 1;
    for (size_t i = 0; i < len; i++) lines += c->text[i] == '\n';
    c->n_cells = mt_calloc((size_t)lines, sizeof *c->n_cells);
    c->cells = mt_calloc((size_t)lines, sizeof *c->cells);
    c->line = mt_calloc((size_t)lines, sizeof *c->line);
    if (!c->n_cells || !c->cells || !c->line) return mt_csv_free(c), mt_last_status();
    char *p = c->text;
    for (int ln = 1; p; ln++) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        char *row = trim(p);
        if (*row && *row != '#') {
            int n = 1;
            for (char *q = row; *q; q++) n += *q == ',';
            char **cells = mt_malloc(sizeof(char *) * (size_t)n);
            if (!cells) return mt_csv_free(c), mt_last_status();
            int k = 0;
            for (char *q = row;; k++) {
                char *comma = strchr(q, ',');
                if (comma) *comma = '\0';
                cells[k] = trim(q);
                if (!comma) break;
                q = comma + 1;
            }
            c->cells[c->n_rows] = cells;
            c->n_cells[c->n_rows] = n;
            c->line[c->n_rows++] = ln;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (c->n_rows == 0) return mt_csv_free(c), MT_ERR(MT_ERR_FORMAT, "CSV %s is empty (no header row)", path);
    return MT_OK;
}

int mt_csv_column(const mt_csv *c, const char *name)
{
    for (int k = 0; k < c->n_cells[0]; k++)
        if (!strcasecmp(c->cells[0][k], name)) return k;
    return -1;
}

mt_status mt_csv_number(const mt_csv *c, const char *path, int r, int col, double *out)
{
    *out = NAN;
    if (col < 0 || !c->cells[r][col][0]) return MT_OK;
    char *end;
    double v = strtod(c->cells[r][col], &end);
    if (*end || !isfinite(v))
        return MT_ERR(MT_ERR_FORMAT, "%s:%d: column '%s': '%s' is not a number", path, c->line[r], c->cells[0][col],
                      c->cells[r][col]);
    *out = v;
    return MT_OK;
}

mt_status mt_csv_check_row(const mt_csv *c, const char *path, int r)
{
    if (c->n_cells[r] != c->n_cells[0])
        return MT_ERR(MT_ERR_FORMAT, "%s:%d: %d cells, the header has %d", path, c->line[r], c->n_cells[r],
                      c->n_cells[0]);
    return MT_OK;
}

