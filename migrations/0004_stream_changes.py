from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from gql_server.clock import now
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_rules')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StreamChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('stream', fields.CharField(max_length=128)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'stream_change', 'app': 'models', 'indexes': [Index(fields=['stream', 'id'], name='stream_change_stream')], 'pk_attr': 'id', 'table_description': 'A change to a stream, written in the transaction that made it and removed when a'},
            bases=['Entity'],
        ),
    ]
