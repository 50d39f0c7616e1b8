/*
 * svg.h - sluice-evaluate's plots, as stand-alone SVG files: the confusion
 * matrix as a heat map, ROC curves one-vs-rest, and training curves from a
 * sluice-train --log stream.  Each returns 0, or -1 with a message in err.
 */
#ifndef EVALUATE_SVG_H
#define EVALUATE_SVG_H

#include "sluice.h"

int svg_confusion(const char *path, const struct sl_cls_metrics *m, char **labels,
                  char *err, size_t errcap);
int svg_roc(const char *path, const int32_t *y, const float *scores, int K,
            int64_t n, const struct sl_cls_metrics *m, char **labels, char *err,
            size_t errcap);
int svg_curves(const char *path, const char *log, char *err, size_t errcap);

#endif
