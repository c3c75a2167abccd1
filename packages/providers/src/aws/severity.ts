import type { Severity } from '@scanq/core';

/** ECR basic-scan severities (and Inspector's for enhanced findings) → scanq's model. */
const ECR_SEVERITY: Record<string, Severity> = {
  CRITICAL: 'CRITICAL',
  HIGH: 'HIGH',
  MEDIUM: 'MEDIUM',
  LOW: 'LOW',
  INFORMATIONAL: 'INFORMATIONAL',
  UNTRIAGED: 'UNKNOWN',
  UNDEFINED: 'UNKNOWN',
};

export const mapEcrSeverity = (s: string | undefined): Severity => ECR_SEVERITY[(s ?? '').toUpperCase()] ?? 'UNKNOWN';
