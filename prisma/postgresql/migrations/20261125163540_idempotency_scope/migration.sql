-- Derived from prisma/migrations/20261125163540_idempotency_scope/migration.sql (sha256 f05914e16c1133bdff99c1e9eefbe2356e3cd89ab2e7996830b2cc33b3262905) by `npm run db:postgres-schema`.
-- AlterTable
ALTER TABLE "IdempotencyKey" DROP CONSTRAINT "IdempotencyKey_pkey",
DROP COLUMN "userId",
ADD COLUMN     "contentType" TEXT NOT NULL,
ADD COLUMN     "fingerprint" TEXT NOT NULL,
ADD COLUMN     "method" TEXT NOT NULL,
ADD COLUMN     "path" TEXT NOT NULL,
ADD COLUMN     "scope" TEXT NOT NULL,
ADD CONSTRAINT "IdempotencyKey_pkey" PRIMARY KEY ("scope", "key");

-- CreateIndex
CREATE INDEX "IdempotencyKey_createdAt_idx" ON "IdempotencyKey"("createdAt");

