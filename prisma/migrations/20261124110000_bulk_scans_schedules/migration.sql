-- CreateEnum
CREATE TYPE "BulkScanStatus" AS ENUM ('planning', 'running', 'succeeded', 'failed', 'cancelled');

-- AlterTable
ALTER TABLE "Scan" ADD COLUMN     "bulkScanId" UUID;

-- CreateTable
CREATE TABLE "BulkScan" (
    "id" UUID NOT NULL,
    "status" "BulkScanStatus" NOT NULL DEFAULT 'planning',
    "selector" JSONB NOT NULL,
    "force" BOOLEAN NOT NULL DEFAULT false,
    "scheduleId" UUID,
    "tickAt" TIMESTAMP(3),
    "selected" INTEGER NOT NULL DEFAULT 0,
    "skipped" INTEGER NOT NULL DEFAULT 0,
    "plan" JSONB NOT NULL DEFAULT '{}',
    "summary" JSONB,
    "error" TEXT,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "BulkScan_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Schedule" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "cron" TEXT NOT NULL,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "selector" JSONB NOT NULL,
    "force" BOOLEAN NOT NULL DEFAULT false,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "nextRunAt" TIMESTAMP(3),
    "lastRunAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Schedule_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Scan_bulkScanId_status_idx" ON "Scan"("bulkScanId", "status");

-- CreateIndex
CREATE INDEX "BulkScan_status_id_idx" ON "BulkScan"("status", "id");

-- CreateIndex
CREATE UNIQUE INDEX "BulkScan_scheduleId_tickAt_key" ON "BulkScan"("scheduleId", "tickAt");

-- CreateIndex
CREATE UNIQUE INDEX "Schedule_name_key" ON "Schedule"("name");

-- AddForeignKey
ALTER TABLE "Scan" ADD CONSTRAINT "Scan_bulkScanId_fkey" FOREIGN KEY ("bulkScanId") REFERENCES "BulkScan"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BulkScan" ADD CONSTRAINT "BulkScan_scheduleId_fkey" FOREIGN KEY ("scheduleId") REFERENCES "Schedule"("id") ON DELETE SET NULL ON UPDATE CASCADE;
