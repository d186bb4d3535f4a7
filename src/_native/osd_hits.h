/* A growable list of search hits (row, query, distance) for the nogil Hamming searches of
   dedup_index.pyx and reuse_mih.pyx.  osd_hits_push returns -1 when memory runs out (the
   caller raises MemoryError after leaving nogil); osd_hits_free releases and resets. */
#ifndef OSD_HITS_H
#define OSD_HITS_H

#include <stdint.h>
#include <stdlib.h>

typedef struct {
    int64_t *row;
    int32_t *q;
    int32_t *dist;
    int64_t n, cap;
} osd_hits;

static int osd_hits_push(osd_hits *h, int64_t row, int32_t q, int32_t d) {
    if (h->n == h->cap) {
        int64_t cap = h->cap ? h->cap * 2 : 1024;
        int64_t *r = (int64_t *)realloc(h->row, cap * sizeof(int64_t));
        if (!r) return -1;
        h->row = r;
        int32_t *qq = (int32_t *)realloc(h->q, cap * sizeof(int32_t));
        if (!qq) return -1;
        h->q = qq;
        int32_t *dd = (int32_t *)realloc(h->dist, cap * sizeof(int32_t));
        if (!dd) return -1;
        h->dist = dd;
        h->cap = cap;
    }
    h->row[h->n] = row;
    h->q[h->n] = q;
    h->dist[h->n] = d;
    h->n++;
    return 0;
}

static void osd_hits_free(osd_hits *h) {
    free(h->row); free(h->q); free(h->dist);
    h->row = NULL; h->q = NULL; h->dist = NULL; h->n = h->cap = 0;
}

#endif
