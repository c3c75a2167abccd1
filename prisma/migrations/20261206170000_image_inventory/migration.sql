-- The security hub: images as the inventory's unit of truth, a vulnerability dictionary, and the
-- retention marks on each run. Current findings are the Finding rows of an image's current run.

-- AlterTable
ALTER TABLE "ImageScan" ADD COLUMN "imageId" UUID,
ADD COLUMN "findingsPruned" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN "rawDropped" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "Finding" ADD COLUMN "cvssVector" TEXT,
ADD COLUMN "providerVulnerabilityId" TEXT;

-- CreateTable
CREATE TABLE "Image" (
    "id" UUID NOT NULL,
    "provider" "Provider" NOT NULL,
    "accountId" UUID NOT NULL,
    "registry" TEXT NOT NULL,
    "repository" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "tags" TEXT[],
    "currentImageScanId" UUID NOT NULL,
    "lastScanId" UUID NOT NULL,
    "lastScannedAt" TIMESTAMP(3) NOT NULL,
    "critical" INTEGER NOT NULL DEFAULT 0,
    "high" INTEGER NOT NULL DEFAULT 0,
    "medium" INTEGER NOT NULL DEFAULT 0,
    "low" INTEGER NOT NULL DEFAULT 0,
    "informational" INTEGER NOT NULL DEFAULT 0,
    "unknown" INTEGER NOT NULL DEFAULT 0,
    "fixable" INTEGER NOT NULL DEFAULT 0,
    "worst" INTEGER NOT NULL DEFAULT 6,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Image_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Vulnerability" (
    "id" TEXT NOT NULL,
    "severity" "Severity" NOT NULL,
    "score" DOUBLE PRECISION,
    "cvssVector" TEXT,
    "title" TEXT,
    "links" TEXT[],
    "aliases" TEXT[],
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Vulnerability_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ImageScan_imageId_id_idx" ON "ImageScan"("imageId", "id");

-- Retention's work lists: runs whose findings or raw payloads are still kept.
CREATE INDEX "ImageScan_findingsPruned_id_idx" ON "ImageScan"("findingsPruned", "id");
CREATE INDEX "ImageScan_rawDropped_createdAt_idx" ON "ImageScan"("rawDropped", "createdAt");

-- CreateIndex
CREATE INDEX "Finding_vulnerabilityId_imageScanId_idx" ON "Finding"("vulnerabilityId", "imageScanId");

-- CreateIndex
CREATE UNIQUE INDEX "Image_currentImageScanId_key" ON "Image"("currentImageScanId");

-- CreateIndex
CREATE INDEX "Image_worst_id_idx" ON "Image"("worst", "id");

-- CreateIndex
CREATE INDEX "Image_provider_accountId_idx" ON "Image"("provider", "accountId");

-- CreateIndex
CREATE UNIQUE INDEX "Image_accountId_registry_repository_digest_key" ON "Image"("accountId", "registry", "repository", "digest");

-- AddForeignKey
ALTER TABLE "Image" ADD CONSTRAINT "Image_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "CloudAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
