-- AlterTable
ALTER TABLE "CloudAccount" ADD COLUMN "quotaTrackedSince" TIMESTAMP(3);
