from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_administration')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='LedgerEntry',
            index=Index(fields=['account_id', 'created_at', 'task_id', 'to_bucket', 'reason', 'amount_minor', 'worker_id'], name='ledger_account_created'),
        ),
        ops.AddIndex(
            model_name='Submission',
            index=Index(fields=['account_id', 'created_at', 'task_id', 'worker_id', 'state', 'first_submitted_at', 'revision_count', 'reviewed_at'], name='submission_account_started'),
        ),
        ops.AddIndex(
            model_name='Submission',
            index=Index(fields=['task_id', 'created_at'], name='submission_task_started'),
        ),
    ]
