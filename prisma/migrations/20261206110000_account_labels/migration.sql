-- AlterTable
ALTER TABLE "CloudAccount" ADD COLUMN "labels" JSONB NOT NULL DEFAULT '{}';
