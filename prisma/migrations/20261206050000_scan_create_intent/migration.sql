-- AlterTable: the intent to create a task at the cloud, recorded before the create call, so a
-- retry after an ambiguous create looks the task up instead of creating a second one.
ALTER TABLE "Scan" ADD COLUMN "createIntentAt" TIMESTAMP(3),
ADD COLUMN "createOwner" TEXT;
