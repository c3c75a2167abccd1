import { randomUUID } from 'node:crypto';
import type { SimResponse } from '../core/frontend.js';

/** What ECR answers with: awsJson 1.1 bodies, request id on every response. */
export const AWS_JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/**
 * An error ECR (or the AWS front door ahead of it) answers with. `code` is the awsJson
 * `__type`, which the SDK maps onto its exception classes (`ImageNotFoundException`, …).
 */
export class EcrError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

export function jsonResponse(body: unknown): SimResponse {
  return {
    status: 200,
    headers: { 'content-type': AWS_JSON_CONTENT_TYPE, 'x-amzn-requestid': randomUUID() },
    body,
    outcome: 'ok',
  };
}

/** awsJson error shape: the code travels both in `x-amzn-errortype` and in `__type`. */
export function errorResponse(err: EcrError): SimResponse {
  return {
    status: err.status,
    headers: {
      'content-type': AWS_JSON_CONTENT_TYPE,
      'x-amzn-requestid': randomUUID(),
      'x-amzn-errortype': err.code,
    },
    body: { __type: err.code, message: err.message },
    outcome: err.code,
  };
}

/** `{imageDigest:'…', imageTag:'…'}` with `null` for a missing part, as ECR prints image ids. */
export function formatImageId(id: { imageDigest?: string; imageTag?: string }): string {
  return `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;
}

// Messages below follow what ECR really prints (seen in SDK/CLI error reports), so code that
// logs or matches on them behaves as it would against AWS.
export const ecrErrors = {
  missingAuthenticationToken: () => new EcrError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403),
  incompleteSignature: (message: string) => new EcrError('IncompleteSignatureException', message),
  unrecognizedClient: () =>
    new EcrError('UnrecognizedClientException', 'The security token included in the request is invalid.'),
  /** A session token past its expiry (STS-issued credentials), on any service. */
  expiredToken: () => new EcrError('ExpiredTokenException', 'The security token included in the request is expired'),
  invalidSignature: (message = SIGNATURE_MISMATCH) => new EcrError('InvalidSignatureException', message),
  unknownOperation: (target: string) =>
    new EcrError('UnknownOperationException', `The operation ${target} is not supported by this endpoint.`),
  serialization: (message: string) => new EcrError('SerializationException', message),
  validation: (message: string) => new EcrError('ValidationException', message),
  invalidParameter: (message: string) => new EcrError('InvalidParameterException', message),
  repositoryNotFound: (repositoryName: string, registryId: string) =>
    new EcrError(
      'RepositoryNotFoundException',
      `The repository with name '${repositoryName}' does not exist in the registry with id '${registryId}'`,
    ),
  imageNotFound: (id: { imageDigest?: string; imageTag?: string }, repositoryName: string, registryId: string) =>
    new EcrError(
      'ImageNotFoundException',
      `The image with imageId ${formatImageId(id)} does not exist within the repository with name '${repositoryName}' in the registry with id '${registryId}'`,
    ),
  scanNotFound: (id: { imageDigest?: string; imageTag?: string }, repositoryName: string, registryId: string) =>
    new EcrError(
      'ScanNotFoundException',
      `Image scan does not exist for the image with '${formatImageId(id)}' in the repository with name '${repositoryName}' in the registry with id '${registryId}'`,
    ),
  limitExceeded: () =>
    new EcrError('LimitExceededException', 'The scan quota per image has been exceeded. Wait and try again.'),
  unsupportedImageType: () => new EcrError('UnsupportedImageTypeException', 'The image is of a type that cannot be scanned.'),
  server: () => new EcrError('ServerException', 'An internal error occurred while processing the request.', 500),
  throttling: () => new EcrError('ThrottlingException', 'Rate exceeded'),
};

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
