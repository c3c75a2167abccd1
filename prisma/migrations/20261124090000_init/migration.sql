-- CreateEnum
CREATE TYPE "Provider" AS ENUM ('aws', 'alibaba', 'tencent', 'huawei');

-- CreateEnum
CREATE TYPE "ScanStatus" AS ENUM ('queued', 'quota_wait', 'running', 'retrying', 'succeeded', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "ImageScanStatus" AS ENUM ('pending', 'scanning', 'succeeded', 'failed', 'skipped', 'cancelled');

-- CreateEnum
CREATE TYPE "Severity" AS ENUM ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNKNOWN');

-- CreateTable
CREATE TABLE "CloudAccount" (
    "id" UUID NOT NULL,
    "provider" "Provider" NOT NULL,
    "name" TEXT NOT NULL,
    "region" TEXT NOT NULL,
    "endpoint" TEXT,
    "credentialRef" TEXT NOT NULL,
    "settings" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "CloudAccount_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Scan" (
    "id" UUID NOT NULL,
    "provider" "Provider" NOT NULL,
    "accountId" UUID NOT NULL,
    "status" "ScanStatus" NOT NULL DEFAULT 'queued',
    "reason" TEXT,
    "error" TEXT,
    "target" JSONB NOT NULL,
    "providerTaskId" TEXT,
    "progress" INTEGER NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "idempotencyKey" TEXT,
    "requestHash" TEXT,
    "jobId" TEXT,
    "deadlineAt" TIMESTAMP(3) NOT NULL,
    "nextPollAt" TIMESTAMP(3),
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Scan_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ImageScan" (
    "id" UUID NOT NULL,
    "scanId" UUID NOT NULL,
    "registry" TEXT NOT NULL,
    "repository" TEXT NOT NULL,
    "tags" TEXT[],
    "digest" TEXT,
    "providerImageId" TEXT,
    "status" "ImageScanStatus" NOT NULL DEFAULT 'pending',
    "reason" TEXT,
    "reused" BOOLEAN NOT NULL DEFAULT false,
    "progress" INTEGER NOT NULL DEFAULT 0,
    "critical" INTEGER NOT NULL DEFAULT 0,
    "high" INTEGER NOT NULL DEFAULT 0,
    "medium" INTEGER NOT NULL DEFAULT 0,
    "low" INTEGER NOT NULL DEFAULT 0,
    "informational" INTEGER NOT NULL DEFAULT 0,
    "unknown" INTEGER NOT NULL DEFAULT 0,
    "scanCompletedAt" TIMESTAMP(3),
    "raw" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ImageScan_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Finding" (
    "id" BIGSERIAL NOT NULL,
    "scanId" UUID NOT NULL,
    "imageScanId" UUID NOT NULL,
    "vulnerabilityId" TEXT NOT NULL,
    "severity" "Severity" NOT NULL,
    "providerSeverity" TEXT NOT NULL,
    "packageName" TEXT,
    "installedVersion" TEXT,
    "fixedVersion" TEXT,
    "title" TEXT,
    "link" TEXT,
    "score" DOUBLE PRECISION,
    "raw" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Finding_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ImageScanWindow" (
    "accountId" UUID NOT NULL,
    "registry" TEXT NOT NULL,
    "repository" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "lastRequestedAt" TIMESTAMP(3) NOT NULL,
    "scanId" UUID,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ImageScanWindow_pkey" PRIMARY KEY ("accountId","registry","repository","digest")
);

-- CreateIndex
CREATE UNIQUE INDEX "CloudAccount_provider_name_key" ON "CloudAccount"("provider", "name");

-- CreateIndex
CREATE UNIQUE INDEX "Scan_idempotencyKey_key" ON "Scan"("idempotencyKey");

-- CreateIndex
CREATE INDEX "Scan_status_provider_id_idx" ON "Scan"("status", "provider", "id");

-- CreateIndex
CREATE INDEX "Scan_provider_id_idx" ON "Scan"("provider", "id");

-- CreateIndex
CREATE INDEX "Scan_status_deadlineAt_idx" ON "Scan"("status", "deadlineAt");

-- CreateIndex
CREATE INDEX "ImageScan_scanId_idx" ON "ImageScan"("scanId");

-- CreateIndex
CREATE INDEX "ImageScan_digest_idx" ON "ImageScan"("digest");

-- CreateIndex
CREATE INDEX "Finding_scanId_id_idx" ON "Finding"("scanId", "id");

-- CreateIndex
CREATE INDEX "Finding_scanId_severity_id_idx" ON "Finding"("scanId", "severity", "id");

-- CreateIndex
CREATE INDEX "Finding_imageScanId_idx" ON "Finding"("imageScanId");

-- AddForeignKey
ALTER TABLE "Scan" ADD CONSTRAINT "Scan_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "CloudAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ImageScan" ADD CONSTRAINT "ImageScan_scanId_fkey" FOREIGN KEY ("scanId") REFERENCES "Scan"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Finding" ADD CONSTRAINT "Finding_scanId_fkey" FOREIGN KEY ("scanId") REFERENCES "Scan"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Finding" ADD CONSTRAINT "Finding_imageScanId_fkey" FOREIGN KEY ("imageScanId") REFERENCES "ImageScan"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ImageScanWindow" ADD CONSTRAINT "ImageScanWindow_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "CloudAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
