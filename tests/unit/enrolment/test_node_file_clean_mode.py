"""Node files: a node's clean mode, its own key or Ironic's
automated_clean; the option's default otherwise."""

from tests.unit.enrolment import test_node_file_review
from nova_bm.enrolment import node_file
from tests import utils


class CleanModeTestCase(test_node_file_review.NodeFileTestCase):

    def test_own_key_ironic_key_and_default(self):
        nodes = [utils.ironic_node(i) for i in range(5)]
        nodes[0]['clean_mode'] = 'FULL'
        nodes[1]['automated_clean'] = False
        nodes[2]['automated_clean'] = True
        nodes[3]['clean_mode'] = 'none'
        nodes[3]['automated_clean'] = False
        specs, ignored = node_file.load_report(self.write(nodes), 'proxy-1')
        self.assertEqual(['full', 'none', None, 'none', None],
                         [row.get('clean_mode') for row, _ in specs])
        self.assertEqual([], ignored)

    def test_refused_with_their_place(self):
        nodes = [utils.ironic_node(i) for i in range(3)]
        nodes[0]['clean_mode'] = 'shred'
        nodes[1]['automated_clean'] = 'no'
        nodes[2]['clean_mode'] = 'full'
        nodes[2]['automated_clean'] = False
        error = self.refused(self.write(nodes))
        self.assertEqual([
            "nodes[0] (node-0): clean_mode: must be metadata, express, "
            "full, none, got 'shred'",
            'nodes[1] (node-1): automated_clean: must be true or false',
            'nodes[2] (node-2): clean_mode: full contradicts '
            'automated_clean false; give one of them'],
            [line.strip() for line in str(error).splitlines()[1:4]])
