/*
 * crd — the CustomResourceDefinitions, generated from the spec field tables
 * (memshack_spec.h), so the schema, limits, defaults and descriptions are
 * the ones the operator enforces. Pure.
 *
 * `memshack crd` prints them as YAML; the build keeps config/crd/ equal to
 * that output (a test fails on drift).
 */
#ifndef MEMSHACK_CORE_CRD_H
#define MEMSHACK_CORE_CRD_H

#include <jansson.h>

/* The Memshack CRD (new reference). */
json_t *crd_memshack(void);
/* The MemcachedProxy CRD (new reference). */
json_t *crd_memcachedproxy(void);
/* Every CRD memshack installs, as an array (new reference). */
json_t *crd_all(void);

#endif
