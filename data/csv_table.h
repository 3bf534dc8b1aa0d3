/* data/csv_table.h: a small CSV table reader for the S3 tables (reference cohorts, patients):
 * comma-separated cells, trimmed of spaces, a cell wrapped in "double quotes" unwrapped (no
 * commas or escaped quotes inside), first row = header, blank lines and lines starting with '#'
 * skipped. (data/labels.h reads key -> value columns with full RFC 4180 quoting.) */
#ifndef MT_DATA_CSV_TABLE_H
#define MT_DATA_CSV_TABLE_H

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_csv {
    char *text;      /* the file, cut into cells in place */
    int n_rows;      /* header included */
    int *n_cells;    /* per row */
    char ***cells;   /* cells[r][c] point into text */
    int *line;       /* 1-based file line of each row, for messages */
} mt_csv;

/* Reads `path` into c (zeroed first). Errors: MT_ERR_IO (unreadable), MT_ERR_FORMAT (no header
 * row), MT_ERR_NOMEM; on error c is empty. */
mt_status mt_csv_read(const char *path, mt_csv *c);
void mt_csv_free(mt_csv *c);
/* Index of the header cell equal to `name` (case-insensitive), or -1. */
int mt_csv_column(const mt_csv *c, const char *name);
/* MT_OK when row r has as many cells as the header, else MT_ERR_FORMAT naming path:line. */
mt_status mt_csv_check_row(const mt_csv *c, const char *path, int r);
/* Cell (r, col) as a finite number into *out: NaN for col < 0 or an empty cell;
 * MT_ERR_FORMAT naming path:line, the column and the text for anything else. */
mt_status mt_csv_number(const mt_csv *c, const char *path, int r, int col, double *out);

#ifdef __cplusplus
}
#endif
#endif
