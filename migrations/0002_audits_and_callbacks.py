from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OutboxEvent',
            name='claim_token',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddIndex(
            model_name='Submission',
            index=Index(fields=['account_id', 'state', 'reviewed_at'], name='submission_account_completed'),
        ),
    ]
