from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_audits_and_callbacks')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='RuleFiring',
            options={'table': 'rule_firing', 'app': 'models', 'indexes': [Index(fields=['rule_id', 'created_at'], name='rule_firing_rule_created'), Index(fields=['task_id', 'created_at'], name='rule_firing_task_created'), Index(fields=['account_id', 'worker_id', 'created_at'], name='rule_firing_worker_created')], 'pk_attr': 'id', 'table_description': 'A rule acted: the metrics that made it fire, the action and what it did.'},
        ),
        ops.AlterField(
            model_name='RuleFiring',
            name='worker',
            field=fields.ForeignKeyField('models.Worker', source_field='worker_id', null=True, db_constraint=True, to_field='id', related_name='rule_firings', on_delete=OnDelete.CASCADE),
        ),
        ops.AddIndex(
            model_name='RuleFiring',
            index=Index(fields=['account_id', 'worker_id', 'created_at'], name='rule_firing_worker_created'),
        ),
    ]
