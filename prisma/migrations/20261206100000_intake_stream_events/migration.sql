-- AlterTable
ALTER TABLE "BulkScan" ADD COLUMN     "idempotencyKey" TEXT,
ADD COLUMN     "requestHash" TEXT;

-- CreateTable
CREATE TABLE "StreamEvent" (
    "id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "scanId" UUID,
    "bulkScanId" UUID,
    "payload" JSONB NOT NULL,
    "streamId" TEXT,
    "appendedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StreamEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "BulkScan_idempotencyKey_key" ON "BulkScan"("idempotencyKey");

-- CreateIndex
CREATE UNIQUE INDEX "StreamEvent_key_key" ON "StreamEvent"("key");

-- CreateIndex
CREATE INDEX "StreamEvent_appendedAt_id_idx" ON "StreamEvent"("appendedAt", "id");
