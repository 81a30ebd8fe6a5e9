/*
 * azuretest.h - Azure Blob helpers for the plan-store tests: one Azurite shared by all the
 * tests of an executable, clients for it, and service SAS tokens signed with the account key.
 *
 * Criterion runs every test in its own process, so a server started in a test would be
 * started once per test. Instead a test file starts Azurite from its PRE_ALL report hook
 * (mi_azuretest_shared_start) and stops it from POST_ALL; the port reaches the test
 * processes through the environment (MI_TEST_AZURITE_PORT). Each test uses its own
 * container, so tests stay independent.
 *
 * Like testsupport.h, functions abort the test (cr_assert) when they cannot do their job.
 */
#ifndef MI_AZURETEST_H
#define MI_AZURETEST_H

#include "remote/azure_blob.h"

/* From the PRE_ALL / POST_ALL report hooks. */
void mi_azuretest_shared_start(void);
void mi_azuretest_shared_stop(void);

/* The shared Azurite's port and blob endpoint ("http://127.0.0.1:PORT/devstoreaccount1",
 * caller frees). */
int mi_azuretest_port(void);
char *mi_azuretest_endpoint(void);

/* A service SAS for a whole container, signed with the devstoreaccount1 key as Azure's
 * "Create a service SAS" documents for the pinned version (string-to-sign of 2020-12-06 and
 * later). permissions e.g. "racwdl"; expiry "2030-01-01T00:00:00Z" (caller frees). */
char *mi_azuretest_container_sas(const char *container, const char *permissions,
                                 const char *expiry);

/* A client for container on endpoint (NULL: the shared Azurite) with the account key, with
 * fast retries (tests need not wait seconds). The container is created. */
struct mi_azblob *mi_azuretest_client(const char *endpoint, const char *container);
/* The same with a SAS token instead of the key; the container is not created. */
struct mi_azblob *mi_azuretest_sas_client(const char *endpoint, const char *container,
                                          const char *sas);

/* The retry policy the helpers use: 3 attempts, 10 ms apart. */
extern const struct mi_http_retry mi_azuretest_fast_retry;

#endif
