-- AlterTable
ALTER TABLE "CloudAccount" ADD COLUMN "credentials" JSONB;
