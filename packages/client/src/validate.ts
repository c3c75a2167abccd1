// The 400 shape mapping lives in core (the API, the producer and the intake worker use it too).
export { check, toApiIssues, type Checked } from '@scanq/core';
