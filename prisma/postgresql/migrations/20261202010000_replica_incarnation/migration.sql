-- Derived from prisma/migrations/20261202010000_replica_incarnation/migration.sql (sha256 95b4939e1f1b9b052d9d972317b9725063f8f3bd6f73d7a899b9e20bf7d400ef) by `npm run db:postgres-schema`.
-- CreateTable
CREATE TABLE "Replica" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "incarnation" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Replica_pkey" PRIMARY KEY ("id")
);

