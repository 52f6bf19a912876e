"""Initial schema: sounds, contributors, models, labels, NFTs, generated meows, jobs, indexer state

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contract", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_events")),
        sa.UniqueConstraint(
            "block_hash", "log_index", name=op.f("uq_chain_events_block_hash_log_index")
        ),
    )
    op.create_index(op.f("ix_chain_events_name"), "chain_events", ["name"], unique=False)
    op.create_index(
        "ix_chain_events_position", "chain_events", ["block_number", "log_index"], unique=False
    )
    op.create_index(op.f("ix_chain_events_tx_hash"), "chain_events", ["tx_hash"], unique=False)

    op.create_table(
        "contributors",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_contributors")),
    )
    op.create_table(
        "indexer_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("sound_registry", sa.String(length=42), nullable=False),
        sa.Column("meow_nft", sa.String(length=42), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("next_block", sa.BigInteger(), nullable=False),
        sa.Column("last_block_hash", sa.String(length=66), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indexer_checkpoints")),
        sa.UniqueConstraint(
            "chain_id",
            "sound_registry",
            "meow_nft",
            name=op.f("uq_indexer_checkpoints_chain_id_sound_registry_meow_nft"),
        ),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("label_names", sa.JSON(), nullable=False),
        sa.Column("registered_block", sa.BigInteger(), nullable=False),
        sa.Column("registered_tx_hash", sa.String(length=66), nullable=False),
        sa.Column("registered_log_index", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
    )
    op.create_index(op.f("ix_models_task"), "models", ["task"], unique=False)

    op.create_table(
        "nfts",
        sa.Column("token_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("minted_to", sa.String(length=42), nullable=False),
        sa.Column("source_sound_id", sa.String(length=66), nullable=False),
        sa.Column("token_uri", sa.Text(), nullable=False),
        sa.Column("voucher_id", sa.String(length=78), nullable=False),
        sa.Column("minted_block", sa.BigInteger(), nullable=False),
        sa.Column("minted_tx_hash", sa.String(length=66), nullable=False),
        sa.Column("minted_log_index", sa.Integer(), nullable=False),
        sa.Column("owner_block", sa.BigInteger(), nullable=False),
        sa.Column("owner_log_index", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_nfts")),
    )
    op.create_index(op.f("ix_nfts_owner"), "nfts", ["owner"], unique=False)
    op.create_index(op.f("ix_nfts_source_sound_id"), "nfts", ["source_sound_id"], unique=False)

    op.create_table(
        "sounds",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("cid", sa.String(length=128), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "cat",
                "dog",
                "infant",
                "other",
                name="sound_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("contributor_address", sa.String(length=42), nullable=False),
        sa.Column("contributor_label", sa.Text(), nullable=False),
        sa.Column("generator_model_id", sa.String(length=66), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pinned",
                "registered",
                name="sound_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.Column("media_type", sa.String(length=64), nullable=True),
        sa.Column("registered_block", sa.BigInteger(), nullable=True),
        sa.Column("registered_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("registered_log_index", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["contributor_address"],
            ["contributors.address"],
            name=op.f("fk_sounds_contributor_address_contributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sounds")),
    )
    op.create_index(
        op.f("ix_sounds_contributor_address"), "sounds", ["contributor_address"], unique=False
    )
    op.create_index(
        op.f("ix_sounds_generator_model_id"), "sounds", ["generator_model_id"], unique=False
    )
    op.create_index(op.f("ix_sounds_kind"), "sounds", ["kind"], unique=False)
    op.create_index(op.f("ix_sounds_status"), "sounds", ["status"], unique=False)
    op.create_index(op.f("ix_sounds_synthetic"), "sounds", ["synthetic"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "upload",
                "meow",
                "style_transfer",
                "mint",
                name="job_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "stage",
            sa.Enum(
                "received",
                "generating",
                "pinned",
                "registered",
                "labelling",
                "labelled",
                "minted",
                "failed",
                name="job_stage",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("owner_address", sa.String(length=42), nullable=True),
        sa.Column("sound_id", sa.String(length=66), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["sound_id"], ["sounds.id"], name=op.f("fk_jobs_sound_id_sounds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_owner_address"), "jobs", ["owner_address"], unique=False)
    op.create_index(op.f("ix_jobs_sound_id"), "jobs", ["sound_id"], unique=False)
    op.create_index(op.f("ix_jobs_stage"), "jobs", ["stage"], unique=False)

    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sound_id", sa.String(length=66), nullable=False),
        sa.Column("model_id", sa.String(length=66), nullable=False),
        sa.Column("label_index", sa.Integer(), nullable=False),
        sa.Column("label_name", sa.Text(), nullable=False),
        sa.Column("confidence_bps", sa.Integer(), nullable=False),
        sa.Column("labeller", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_labels_model_id_models")
        ),
        sa.ForeignKeyConstraint(
            ["sound_id"], ["sounds.id"], name=op.f("fk_labels_sound_id_sounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
        sa.UniqueConstraint("sound_id", "model_id", name=op.f("uq_labels_sound_id_model_id")),
    )
    op.create_index(op.f("ix_labels_label_name"), "labels", ["label_name"], unique=False)
    op.create_index(op.f("ix_labels_model_id"), "labels", ["model_id"], unique=False)
    op.create_index(op.f("ix_labels_sound_id"), "labels", ["sound_id"], unique=False)

    op.create_table(
        "generated_meows",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("sound_id", sa.String(length=66), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=66), nullable=False),
        sa.Column("mood", sa.String(length=32), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("source_sound_id", sa.String(length=66), nullable=True),
        sa.Column("spectrogram_cid", sa.String(length=128), nullable=True),
        sa.Column("metadata_cid", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_generated_meows_job_id_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["sound_id"], ["sounds.id"], name=op.f("fk_generated_meows_sound_id_sounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generated_meows")),
        sa.UniqueConstraint("metadata_cid", name=op.f("uq_generated_meows_metadata_cid")),
        sa.UniqueConstraint("sound_id", name=op.f("uq_generated_meows_sound_id")),
    )
    op.create_index(op.f("ix_generated_meows_job_id"), "generated_meows", ["job_id"], unique=False)

    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "received",
                "generating",
                "pinned",
                "registered",
                "labelling",
                "labelled",
                "minted",
                "failed",
                name="job_event_stage",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_events_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_events")),
        sa.UniqueConstraint("job_id", "seq", name=op.f("uq_job_events_job_id_seq")),
    )
    op.create_index(op.f("ix_job_events_job_id"), "job_events", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_job_events_job_id"), table_name="job_events")

    op.drop_table("job_events")
    op.drop_index(op.f("ix_generated_meows_job_id"), table_name="generated_meows")

    op.drop_table("generated_meows")
    op.drop_index(op.f("ix_labels_sound_id"), table_name="labels")
    op.drop_index(op.f("ix_labels_model_id"), table_name="labels")
    op.drop_index(op.f("ix_labels_label_name"), table_name="labels")

    op.drop_table("labels")
    op.drop_index(op.f("ix_jobs_stage"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_sound_id"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_owner_address"), table_name="jobs")

    op.drop_table("jobs")
    op.drop_index(op.f("ix_sounds_synthetic"), table_name="sounds")
    op.drop_index(op.f("ix_sounds_status"), table_name="sounds")
    op.drop_index(op.f("ix_sounds_kind"), table_name="sounds")
    op.drop_index(op.f("ix_sounds_generator_model_id"), table_name="sounds")
    op.drop_index(op.f("ix_sounds_contributor_address"), table_name="sounds")

    op.drop_table("sounds")
    op.drop_index(op.f("ix_nfts_source_sound_id"), table_name="nfts")
    op.drop_index(op.f("ix_nfts_owner"), table_name="nfts")

    op.drop_table("nfts")
    op.drop_index(op.f("ix_models_task"), table_name="models")

    op.drop_table("models")
    op.drop_table("indexer_checkpoints")
    op.drop_table("contributors")
    op.drop_index(op.f("ix_chain_events_tx_hash"), table_name="chain_events")
    op.drop_index("ix_chain_events_position", table_name="chain_events")
    op.drop_index(op.f("ix_chain_events_name"), table_name="chain_events")

    op.drop_table("chain_events")
