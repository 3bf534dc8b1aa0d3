/* data/sample.c: lifetime helpers for mt_sample, mt_meta and mt_volume. */
#include "sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mt_meta_init(mt_meta *m)
{
    memset(m, 0, sizeof *m);
    m->age_years = -1.0f;
    m->height_m = -1.0f;
    m->weight_kg = -1.0f;
    m->slice_position = NAN;
    m->direction[0] = m->direction[4] = m->direction[8] = 1.0;
}

void mt_sample_init(mt_sample *s)
{
    memset(s, 0, sizeof *s);
    s->label = -1;
    mt_meta_init(&s->meta);
}

void mt_sample_free(mt_sample *s)
{
    free(s->image);
    free(s->mask);
    free(s->boxes);
    free(s->points);
    mt_sample_init(s);
}

void mt_volume_free(mt_volume *v)
{
    free(v->data);
    memset(v, 0, sizeof *v);
}
