"""The node database API on SQLite, MariaDB and PostgreSQL."""

import threading

from oslo_utils import uuidutils

from nova_bm.db import api as db_api
from nova_bm.enrolment import node_spec
from nova_bm import exception
from tests.unit.db import base
from tests import utils


class NodeTestCase(base.DbTestCase):

    def _create(self, index=1, **overrides):
        row, macs = utils.node_spec_for(index, **overrides)
        return db_api.create_node(row, macs)

    def test_create_and_get_by_name_or_uuid(self):
        node = self._create(1, traits=['CUSTOM_RACK1'])
        by_name = db_api.get_node('node-1', with_interfaces=True)
        by_uuid = db_api.get_node(node.uuid)
        self.assertEqual(node.uuid, by_name.uuid)
        self.assertEqual('node-1', by_uuid.name)
        self.assertEqual(['CUSTOM_RACK1'], by_name.traits)
        self.assertEqual([utils.mac(1)],
                         [i.address for i in by_name.interfaces])
        self.assertEqual('available', by_name.provision_state)
        self.assertFalse(by_name.maintenance)
        self.assertIsNotNone(by_name.created_at)

    def test_get_missing_node(self):
        self.assertRaises(exception.NodeNotFound, db_api.get_node, 'nope')
        self.assertRaises(exception.NodeNotFound, db_api.get_node,
                          uuidutils.generate_uuid())

    def test_list_filters(self):
        self._create(1)
        self._create(2, service_host='proxy-2')
        db_api.update_node('node-1', {'maintenance': True,
                                      'maintenance_reason': 'bad DIMM'})
        names = lambda **kw: [n.name for n in db_api.list_nodes(**kw)]
        self.assertEqual(['node-1', 'node-2'], names())
        self.assertEqual(['node-2'], names(service_host='proxy-2'))
        self.assertEqual(['node-1'], names(maintenance=True))
        self.assertEqual(['node-2'], names(maintenance=False))

    def test_duplicates_refused_and_nothing_written(self):
        self._create(1)
        clashes = [
            (exception.DuplicateNode, dict(index=2, name='node-1')),
            (exception.DuplicateNode, dict(index=2, ipmi_port=10001)),
            (exception.DuplicateInterface, dict(index=2,
                                                macs=[utils.mac(1)])),
        ]
        for error, kwargs in clashes:
            row, macs = utils.node_spec_for(**kwargs)
            self.assertRaises(error, db_api.create_node, row, macs)
        row, macs = utils.node_spec_for(2)
        row['uuid'] = db_api.get_node('node-1').uuid
        self.assertRaises(exception.DuplicateNode, db_api.create_node, row,
                          macs)
        self.assertEqual(1, db_api.count_nodes())
        self.assertEqual(1, len(db_api.list_interfaces()))

    def test_same_address_other_port_is_another_bmc(self):
        self._create(1, ipmi_port=623, ipmi_address='10.0.0.1')
        self._create(2, ipmi_port=624, ipmi_address='10.0.0.1')
        self.assertEqual(2, db_api.count_nodes())

    def test_bulk_create_is_all_or_nothing_across_batches(self):
        # The clash sits in the last insert batch: the earlier batches must
        # be rolled back with it.
        self._create(0)
        count = 2 * db_api._CHUNK + 10
        specs = [utils.node_spec_for(i) for i in range(1, count)]
        specs.append(utils.node_spec_for(count, macs=[utils.mac(0)]))
        self.assertRaises(exception.DuplicateInterface,
                          db_api.create_nodes, specs)
        self.assertEqual(1, db_api.count_nodes())
        self.assertEqual(1, len(db_api.list_interfaces()))

    def test_bulk_create_reports_counts_and_progress(self):
        count = db_api._CHUNK + 3
        specs = [utils.node_spec_for(i) for i in range(count)]
        seen = []
        created = db_api.create_nodes(specs,
                                      progress=lambda d, t: seen.append(d))
        self.assertEqual((count, count), created)
        self.assertEqual([db_api._CHUNK, count], seen)
        self.assertEqual(count, db_api.count_nodes())
        node = db_api.get_node('node-%d' % (count - 1), with_interfaces=True)
        self.assertEqual([utils.mac(count - 1)],
                         [i.address for i in node.interfaces])

    def test_bulk_create_refuses_clash_within_batch(self):
        specs = [utils.node_spec_for(1), utils.node_spec_for(2, name='node-1')]
        self.assertRaises(exception.DuplicateInBatch, db_api.create_nodes,
                          specs)
        specs = [utils.node_spec_for(1),
                 utils.node_spec_for(2, macs=[utils.mac(1)])]
        self.assertRaises(exception.DuplicateInBatch, db_api.create_nodes,
                          specs)
        self.assertEqual(0, db_api.count_nodes())

    def test_update(self):
        self._create(1)
        node = db_api.update_node('node-1', {'cpus': 16, 'maintenance': True,
                                             'maintenance_reason': 'fan'})
        self.assertEqual((16, True, 'fan'),
                         (node.cpus, node.maintenance,
                          node.maintenance_reason))
        node = db_api.update_node('node-1', {'maintenance': False})
        self.assertEqual((False, None),
                         (node.maintenance, node.maintenance_reason))

    def test_update_to_taken_bmc_refused(self):
        self._create(1)
        self._create(2)
        self.assertRaises(exception.DuplicateNode, db_api.update_node,
                          'node-2', {'ipmi_port': 10001})
        self.assertEqual(10002, db_api.get_node('node-2').ipmi_port)

    def test_destroy(self):
        self._create(1)
        db_api.destroy_node('node-1')
        self.assertEqual(0, db_api.count_nodes())
        self.assertEqual([], db_api.list_interfaces())
        self.assertRaises(exception.NodeNotFound, db_api.destroy_node,
                          'node-1')

    def test_destroy_refused_while_claimed(self):
        self._create(1)
        instance = uuidutils.generate_uuid()
        db_api.claim_node('node-1', instance)
        error = self.assertRaises(exception.NodeInUse, db_api.destroy_node,
                                  'node-1')
        self.assertIn(instance, str(error))
        self.assertEqual(1, db_api.count_nodes())


class ClaimTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        row, macs = utils.node_spec_for(1)
        self.node = db_api.create_node(row, macs)

    def test_claim_release(self):
        instance = uuidutils.generate_uuid()
        claimed = db_api.claim_node('node-1', instance)
        self.assertEqual(instance, claimed.instance_uuid)
        # The same instance claiming again (a retried spawn) is fine.
        db_api.claim_node(self.node.uuid, instance)
        other = uuidutils.generate_uuid()
        self.assertRaises(exception.NodeNotAvailable, db_api.claim_node,
                          'node-1', other)
        self.assertFalse(db_api.release_node('node-1', other))
        self.assertEqual(instance, db_api.get_node('node-1').instance_uuid)
        self.assertTrue(db_api.release_node('node-1', instance))
        self.assertIsNone(db_api.get_node('node-1').instance_uuid)
        self.assertFalse(db_api.release_node('node-1', instance))

    def test_boot_mode_relabelled_when_active_never_mid_job(self):
        # An active node may be relabelled (a node enrolled before boot
        # modes is "bios" until its operator says); while a deploy or a
        # cleaning runs, its BMC was told the boot path for that job.
        instance = uuidutils.generate_uuid()
        db_api.claim_node('node-1', instance)
        for state in ('deploying', 'cleaning'):
            db_api.set_provision_state('node-1', state)
            error = self.assertRaises(exception.NodeBusy, db_api.update_node,
                                      'node-1', {'boot_mode': 'bios'})
            self.assertEqual('Node node-1 is %s: its boot mode cannot change '
                             'until that ends.' % state, str(error))
        db_api.set_provision_state('node-1', 'active')
        db_api.update_node('node-1', {'boot_mode': 'bios'})
        self.assertEqual(('bios', instance), (
            db_api.get_node('node-1').boot_mode,
            db_api.get_node('node-1').instance_uuid))

    def test_release_into_maintenance_and_lookups_by_instance(self):
        instance = uuidutils.generate_uuid()
        db_api.claim_node('node-1', instance)
        self.assertEqual('node-1',
                         db_api.get_node_by_instance(instance).name)
        self.assertEqual([instance], db_api.list_instance_uuids('proxy-1'))
        self.assertEqual([], db_api.list_instance_uuids('proxy-2'))
        self.assertTrue(db_api.release_node('node-1', instance,
                                            maintenance_reason='check it'))
        node = db_api.get_node('node-1')
        self.assertIsNone(node.instance_uuid)
        self.assertEqual((True, 'check it'),
                         (node.maintenance, node.maintenance_reason))
        self.assertIsNone(db_api.get_node_by_instance(instance))

    def test_claimed_node_cannot_move_to_another_proxy(self):
        instance = uuidutils.generate_uuid()
        db_api.claim_node('node-1', instance)
        self.assertRaises(exception.NodeInUse, db_api.update_node,
                          'node-1', {'service_host': 'proxy-2'})
        self.assertEqual('proxy-1', db_api.get_node('node-1').service_host)
        # What Nova's allocation rests on cannot change under it (issue
        # 33: a changed resource class left Nova unable to delete the
        # server); other changes are fine.
        for field, value in (('cpus', 16), ('resource_class', 'other'),
                             ('traits', ['CUSTOM_X'])):
            error = self.assertRaises(exception.NodeHeld, db_api.update_node,
                                      'node-1', {field: value})
            self.assertIn(instance, str(error))
        self.assertRaises(exception.NodeHeld, db_api.add_interface,
                          'node-1', '52:54:00:00:99:01')
        db_api.update_node('node-1', {'service_host': 'proxy-1',
                                      'partition_key': 'rack-2'})
        db_api.release_node('node-1', instance)
        db_api.update_node('node-1', {'service_host': 'proxy-2'})
        self.assertEqual('proxy-2', db_api.get_node('node-1').service_host)

    def test_claim_refused_in_maintenance(self):
        db_api.update_node('node-1', {'maintenance': True})
        error = self.assertRaises(exception.NodeNotAvailable,
                                  db_api.claim_node, 'node-1',
                                  uuidutils.generate_uuid())
        self.assertIn('maintenance', str(error))
        self.assertIsNone(db_api.get_node('node-1').instance_uuid)

    def test_instance_holds_one_node_only(self):
        row, macs = utils.node_spec_for(2)
        db_api.create_node(row, macs)
        instance = uuidutils.generate_uuid()
        db_api.claim_node('node-1', instance)
        # instance_uuid is unique: the database itself refuses a second.
        error = self.assertRaises(exception.NodeNotAvailable,
                                  db_api.claim_node, 'node-2', instance)
        self.assertIn('already holds another node', str(error))
        self.assertIsNone(db_api.get_node('node-2').instance_uuid)

    def test_concurrent_claims_exactly_one_wins(self):
        claimants = 16
        barrier = threading.Barrier(claimants)
        results = {}

        def claim(instance):
            barrier.wait()
            try:
                db_api.claim_node('node-1', instance)
                results[instance] = 'won'
            except exception.NodeNotAvailable:
                results[instance] = 'lost'
            except Exception as e:  # recorded, so the test names it
                results[instance] = repr(e)

        instances = [uuidutils.generate_uuid() for _ in range(claimants)]
        threads = [threading.Thread(target=claim, args=(i,))
                   for i in instances]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        outcomes = sorted(results.values())
        self.assertEqual(['lost'] * (claimants - 1) + ['won'], outcomes)
        winner = [i for i, r in results.items() if r == 'won'][0]
        self.assertEqual(winner, db_api.get_node('node-1').instance_uuid)


class LifecycleTestCase(base.DbTestCase):
    """The road into service, one conditional update per move, on every
    backend (issue 33)."""

    def setUp(self):
        super().setUp()
        self.conf.config(enrolled_node_state='enroll', group='baremetal')
        db_api.create_nodes([node_spec.new_node(utils.node_values(1), [])])

    def test_moves_only_from_the_states_allowed(self):
        node = db_api.change_provision_state(
            'node-1', ('enroll',), 'manageable', 'refused')
        self.assertEqual('manageable', node.provision_state)
        # Again: not from manageable; the refusal says where it is now.
        error = self.assertRaises(
            exception.NodeStateRefused, db_api.change_provision_state,
            'node-1', ('enroll',), 'manageable', 'only enroll nodes')
        self.assertIn('is manageable: only enroll nodes', str(error))
        db_api.update_node('node-1', {'maintenance': True})
        error = self.assertRaises(
            exception.NodeStateRefused, db_api.change_provision_state,
            'node-1', ('manageable',), 'available', 'refused',
            maintenance=False)
        self.assertIn('it is in maintenance', str(error))
        db_api.update_node('node-1', {'maintenance': False})
        self.assertEqual('available', db_api.change_provision_state(
            'node-1', ('manageable',), 'available', 'refused',
            maintenance=False).provision_state)

    def test_never_a_held_node(self):
        db_api.change_provision_state('node-1', ('enroll',), 'available',
                                      'refused')
        db_api.claim_node('node-1', 'a1b2c3d4-0000-4000-8000-00000000000a')
        error = self.assertRaises(
            exception.NodeStateRefused, db_api.change_provision_state,
            'node-1', ('available',), 'manageable', 'refused')
        self.assertIn('held by instance', str(error))

    def test_faults_by_gravity(self):
        uuid = db_api.get_node('node-1').uuid
        timeout = exception.BmcTimeout(bmc='b', command='c', timeout=1)
        refused = exception.BmcAuthFailed(bmc='b', reason='r')
        db_api.record_power_states({uuid: 'on'})
        db_api.record_power_states({uuid: timeout})
        node = db_api.get_node(uuid)
        self.assertEqual((None, 'bmc unreachable'),
                         (node.power_state, node.fault))
        db_api.record_power_states({uuid: refused})
        self.assertEqual('credentials refused', db_api.get_node(uuid).fault)
        db_api.set_provision_state(uuid, 'clean failed', fault='clean failed',
                                   maintenance_reason='r')
        db_api.record_power_states({uuid: timeout})
        self.assertEqual('clean failed', db_api.get_node(uuid).fault)
        db_api.record_power_states({uuid: 'off'})
        node = db_api.get_node(uuid)
        self.assertEqual(('off', 'clean failed'),
                         (node.power_state, node.fault))


class CleaningOutcomeTestCase(base.DbTestCase):
    """A cleaning's outcome (end_cleaning) and a clean failed node taken
    out of maintenance by force, on every backend."""

    PROOF = {'mode': 'metadata', 'result': 'ok', 'problems': [],
             'disks': [{'name': '/dev/sda', 'serial': 'S1'}],
             'known_disks': [{'name': '/dev/sda', 'serial': 'S1',
                              'wwn': None}]}

    def setUp(self):
        super().setUp()
        db_api.create_nodes([node_spec.new_node(
            utils.node_values(1, deploy_interface='image'), [])])
        db_api.set_provision_state('node-1', 'cleaning',
                                   clean_request='full')

    def test_a_node_still_cleaning_takes_the_outcome(self):
        self.assertTrue(db_api.end_cleaning(
            'node-1', 'available', clean_request=None,
            last_cleaning=self.PROOF))
        node = db_api.get_node('node-1')
        self.assertEqual(('available', None, self.PROOF, False),
                         (node.provision_state, node.clean_request,
                          node.last_cleaning, node.maintenance))
        db_api.set_provision_state('node-1', 'cleaning')
        self.assertTrue(db_api.end_cleaning(
            'node-1', 'clean failed', last_error='r', maintenance=True,
            maintenance_reason='r', fault='clean failed'))
        node = db_api.get_node('node-1')
        self.assertEqual(('clean failed', True, 'r', 'clean failed',
                          self.PROOF),
                         (node.provision_state, node.maintenance,
                          node.maintenance_reason, node.fault,
                          node.last_cleaning))

    def test_a_node_moved_out_of_cleaning_is_left_as_it_is(self):
        # An operator took it elsewhere meanwhile: a late outcome (ok or
        # failed) changes nothing.
        for state in ('available', 'manageable', 'clean failed'):
            db_api.set_provision_state('node-1', state)
            before = db_api.get_node('node-1')
            for outcome, fields in (
                    ('available', {'clean_request': None,
                                   'last_cleaning': self.PROOF}),
                    ('clean failed', {'maintenance': True,
                                      'maintenance_reason': 'late',
                                      'last_error': 'late',
                                      'last_cleaning': self.PROOF})):
                self.assertFalse(db_api.end_cleaning('node-1', outcome,
                                                     **fields))
                node = db_api.get_node('node-1')
                self.assertEqual(
                    (state, 'full', False, None, None, None),
                    (node.provision_state, node.clean_request,
                     node.maintenance, node.maintenance_reason,
                     node.last_error, node.last_cleaning))
                self.assertEqual(before.updated_at, node.updated_at)
        # Held by an instance: left alone too.
        db_api.set_provision_state('node-1', 'cleaning',
                                   instance_uuid='inst-1')
        self.assertFalse(db_api.end_cleaning('node-1', 'available',
                                             clean_request=None))
        node = db_api.get_node('node-1')
        self.assertEqual(('cleaning', 'inst-1', 'full'),
                         (node.provision_state, node.instance_uuid,
                          node.clean_request))
        self.assertRaises(exception.NodeNotFound, db_api.end_cleaning,
                          'node-9', 'available')

    def clean_failed(self, **fields):
        db_api.set_provision_state('node-1', 'clean failed',
                                   last_error='r', maintenance_reason='r',
                                   fault='clean failed', **fields)

    def test_force_out_of_maintenance_cleans_again_unless_mode_none(self):
        self.clean_failed(clean_mode='none')
        error = self.assertRaises(
            exception.NodeStateRefused, db_api.update_node, 'node-1',
            {'maintenance': False}, force=True)
        self.assertIn('its clean mode is none', str(error))
        node = db_api.get_node('node-1')
        self.assertEqual(('clean failed', True, 'none', 'full'),
                         (node.provision_state, node.maintenance,
                          node.clean_mode, node.clean_request))
        # Nor with mode none given in the same changes.
        self.clean_failed(clean_mode='express')
        error = self.assertRaises(
            exception.NodeStateRefused, db_api.update_node, 'node-1',
            {'maintenance': False, 'clean_mode': 'none'}, force=True)
        self.assertIn('its clean mode is none', str(error))
        self.assertEqual(('clean failed', True, 'express'), (
            db_api.get_node('node-1').provision_state,
            db_api.get_node('node-1').maintenance,
            db_api.get_node('node-1').clean_mode))
        # Another mode in the same changes: cleaned again, in its own
        # mode (the request of the failed cleaning goes).
        self.clean_failed(clean_mode='none')
        node = db_api.update_node(
            'node-1', {'maintenance': False, 'clean_mode': 'metadata'},
            force=True)
        self.assertEqual(('cleaning', False, None, None, 'metadata', None),
                         (node.provision_state, node.maintenance,
                          node.maintenance_reason, node.fault,
                          node.clean_mode, node.clean_request))
        # The node's mode unset (the proxy's default): cleaned again.
        self.clean_failed(clean_mode=None, clean_request='express')
        node = db_api.update_node('node-1', {'maintenance': False},
                                  force=True)
        self.assertEqual(('cleaning', None),
                         (node.provision_state, node.clean_request))


class InterfaceTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        for index in (1, 2):
            row, macs = utils.node_spec_for(index)
            db_api.create_node(row, macs)

    def test_add_list_delete(self):
        db_api.add_interface('node-1', '52:54:00:aa:bb:cc')
        rows = db_api.list_interfaces('node-1')
        self.assertEqual([utils.mac(1), '52:54:00:aa:bb:cc'],
                         [i.address for i, _, _ in rows])
        self.assertEqual({'node-1'}, {name for _, name, _ in rows})
        self.assertEqual(3, len(db_api.list_interfaces()))
        db_api.delete_interface('52:54:00:aa:bb:cc')
        self.assertEqual(2, len(db_api.list_interfaces()))
        self.assertRaises(exception.InterfaceNotFound,
                          db_api.delete_interface, '52:54:00:aa:bb:cc')

    def test_mac_of_another_node_refused(self):
        error = self.assertRaises(exception.DuplicateInterface,
                                  db_api.add_interface, 'node-2',
                                  utils.mac(1))
        self.assertIn('node-1', str(error))
        self.assertEqual(1, len(db_api.list_interfaces('node-2')))

    def test_unknown_node(self):
        self.assertRaises(exception.NodeNotFound, db_api.add_interface,
                          'nope', '52:54:00:aa:bb:cc')
        self.assertRaises(exception.NodeNotFound, db_api.list_interfaces,
                          'nope')
