from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_stream_changes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Submission',
            index=Index(fields=['account_id', 'state', 'audit_count', 'id'], name='submission_account_audited'),
        ),
    ]
