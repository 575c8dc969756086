"""Inspections' outcomes in the node database (every backend): the move
out of inspecting, the inventory, the interfaces found, a MAC of another
node; and the lookup of a waiting inspection by system UUID."""

from nova_bm.common import states
from nova_bm.db import api as db_api
from tests.unit.db import base
from tests import utils

INVENTORY = {'cpu': {'count': 4, 'architecture': 'x86_64'},
             'memory': {'total_bytes': 1 << 30, 'physical_mb': 1024},
             'disks': [], 'interfaces': []}
SWITCH = {'switch_id': 'aa:bb:cc:dd:ee:ff', 'port_id': 'Ethernet1'}


def nic(address, pxe=True, link=None):
    return {'address': address, 'pxe_enabled': pxe,
            'local_link_connection': link}


class EndInspectionTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        for index in (1, 2):
            row, macs = utils.node_spec_for(index, provision_state='enroll')
            db_api.create_node(row, macs)
        db_api.set_provision_state('node-1', states.INSPECTING)

    def interfaces(self, name):
        # (A link written as None may read back {}: no switch port.)
        return {i.address: (i.pxe_enabled, i.local_link_connection or None)
                for i in db_api.get_node(name, with_interfaces=True)
                .interfaces}

    def test_success_stores_everything(self):
        moved, clash = db_api.end_inspection(
            'node-1', states.MANAGEABLE, {'cpus': 4, 'memory_mb': 1024},
            [nic(utils.mac(1), pxe=False, link=SWITCH),
             nic(utils.mac(100), pxe=True, link=SWITCH)], INVENTORY)
        self.assertEqual((True, None), (moved, clash))
        node = db_api.get_node('node-1')
        self.assertEqual((states.MANAGEABLE, 4, 1024),
                         (node.provision_state, node.cpus, node.memory_mb))
        self.assertEqual({utils.mac(1): (False, SWITCH),
                          utils.mac(100): (True, SWITCH)},
                         self.interfaces('node-1'))
        self.assertEqual(INVENTORY, db_api.get_inventory('node-1'))
        self.assertIsNone(db_api.get_inventory('node-2'))
        # Inspected again: the inventory is replaced.
        db_api.set_provision_state('node-1', states.INSPECTING)
        other = dict(INVENTORY, cpu={'count': 8, 'architecture': 'x86_64'})
        self.assertEqual((True, None), db_api.end_inspection(
            'node-1', states.MANAGEABLE, {}, [nic(utils.mac(1))], other))
        self.assertEqual(other, db_api.get_inventory('node-1'))
        self.assertEqual((True, None),
                         self.interfaces('node-1')[utils.mac(1)])

    def test_failure_moves_without_an_inventory(self):
        self.assertEqual((True, None), db_api.end_inspection(
            'node-1', states.INSPECT_FAILED, {'last_error': 'no'}))
        node = db_api.get_node('node-1')
        self.assertEqual((states.INSPECT_FAILED, 'no'),
                         (node.provision_state, node.last_error))
        self.assertIsNone(db_api.get_inventory('node-1'))

    def test_a_node_moved_meanwhile_is_untouched(self):
        db_api.set_provision_state('node-1', states.MANAGEABLE)
        for state in (states.MANAGEABLE, states.INSPECT_FAILED):
            self.assertEqual((False, None), db_api.end_inspection(
                'node-1', state, {'cpus': 64, 'last_error': 'late'},
                [nic(utils.mac(100))], INVENTORY))
        node = db_api.get_node('node-1')
        self.assertEqual((states.MANAGEABLE, 8, None),
                         (node.provision_state, node.cpus, node.last_error))
        self.assertEqual([utils.mac(1)], list(self.interfaces('node-1')))
        self.assertIsNone(db_api.get_inventory('node-1'))
        # One an instance holds, too.
        db_api.set_provision_state('node-1', states.INSPECTING,
                                   instance_uuid='inst-1')
        self.assertEqual((False, None), db_api.end_inspection(
            'node-1', states.MANAGEABLE, {'cpus': 64}, [], INVENTORY))
        self.assertEqual((states.INSPECTING, 8),
                         (db_api.get_node('node-1').provision_state,
                          db_api.get_node('node-1').cpus))

    def test_a_mac_of_another_node_writes_nothing(self):
        before = db_api.get_node('node-1')
        moved, clash = db_api.end_inspection(
            'node-1', states.MANAGEABLE, {'cpus': 64},
            [nic(utils.mac(100)), nic(utils.mac(2))], INVENTORY)
        self.assertEqual((False, '%s (node node-2)' % utils.mac(2)),
                         (moved, clash))
        node = db_api.get_node('node-1')
        self.assertEqual((states.INSPECTING, before.cpus),
                         (node.provision_state, node.cpus))
        self.assertEqual({utils.mac(1): (True, None)},
                         self.interfaces('node-1'))
        self.assertEqual({utils.mac(2): (True, None)},
                         self.interfaces('node-2'))
        self.assertIsNone(db_api.get_inventory('node-1'))


class FindInspectionTestCase(base.DbTestCase):

    GUID = '1c2d3e4f-0000-4000-8000-0123456789ab'
    OTHER = '5a6b7c8d-0000-4000-8000-0123456789ab'

    def setUp(self):
        super().setUp()
        for index in (1, 2):
            row, macs = utils.node_spec_for(index, macs=[],
                                            provision_state='enroll')
            db_api.create_node(row, macs)

    def test_only_one_waiting_inspection(self):
        self.assertIsNone(db_api.find_inspection_by_system_uuid([self.GUID]))
        job = db_api.start_job('node-1', states.INSPECT, states.INSPECTING,
                               system_uuid=self.GUID)
        found_job, node = db_api.find_inspection_by_system_uuid(
            [self.OTHER, self.GUID])
        self.assertEqual((job.id, 'node-1'), (found_job.id, node.name))
        self.assertIsNone(db_api.find_inspection_by_system_uuid([self.OTHER]))
        # Two nodes whose BMCs report the same: neither.
        db_api.start_job('node-2', states.INSPECT, states.INSPECTING,
                         system_uuid=self.GUID)
        self.assertIsNone(db_api.find_inspection_by_system_uuid([self.GUID]))

    def test_one_that_reported_is_found_until_it_ends(self):
        # A lookup then is suspect (the ramdisk API says so), as for a job
        # found by MAC: an impostor that reported first is caught.
        job = db_api.start_job('node-1', states.INSPECT, states.INSPECTING,
                               system_uuid=self.GUID)
        db_api.suspect_job(job.id, 'a second lookup')
        found_job, _ = db_api.find_inspection_by_system_uuid([self.GUID])
        self.assertEqual((job.id, states.FAILED),
                         (found_job.id, found_job.status))
        db_api.end_job('node-1', job.id)
        self.assertIsNone(db_api.find_inspection_by_system_uuid([self.GUID]))

    def test_not_a_deploy_or_cleaning_job(self):
        db_api.start_job('node-1', states.DEPLOY, states.DEPLOYING,
                         system_uuid=self.GUID)
        db_api.start_job('node-2', states.CLEAN, states.CLEANING,
                         system_uuid=self.GUID)
        self.assertIsNone(db_api.find_inspection_by_system_uuid([self.GUID]))
