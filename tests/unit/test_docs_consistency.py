"""What the documentation says about the code's behaviour stays true.

Two findings of an operator review made into checks: the pages once said
both that ``[scheduler] query_placement_for_image_type_support`` "may be
on" and that it must be off; and the production nova.conf set
``ipmi_parallelism = 256`` (a default long gone) without saying why. Here:
the image types the driver's traits announce are the ones its deploy
accepts, every page that names the option says the same thing about it,
and every value of the production snippet that differs from its option's
default is one the page explains.
"""

import configparser
import os
import re

import nova.conf.opts
import testtools

from nova_bm.conf import opts as nova_bm_opts
from nova_bm.deploy import image_checks
from nova_bm import driver
from tests.functional import test_readme

ROOT = test_readme.ROOT
DOC = os.path.join(ROOT, 'doc', 'source')
OPTION = 'query_placement_for_image_type_support'


def _rst_files():
    for directory, _, files in os.walk(DOC):
        for name in sorted(files):
            if name.endswith('.rst'):
                yield os.path.join(directory, name)


def _paragraphs(path):
    with open(path, encoding='utf-8') as f:
        return [' '.join(block.split())
                for block in re.split(r'\n\s*\n', f.read())]


class ImageTypeSupportTestCase(testtools.TestCase):

    def test_traits_are_the_formats_the_deploy_accepts(self):
        traits = driver.BareMetalDriver.capabilities_as_traits(
            driver.BareMetalDriver.__new__(driver.BareMetalDriver))
        offered = {trait for trait, supported in traits.items()
                   if supported and trait.startswith('COMPUTE_IMAGE_TYPE_')}
        self.assertEqual({'COMPUTE_IMAGE_TYPE_%s' % fmt.upper()
                          for fmt in image_checks.DISK_FORMATS}, offered)

    def test_every_page_says_it_may_be_on_for_raw_and_qcow2(self):
        mentions = [(os.path.relpath(path, DOC), paragraph)
                    for path in _rst_files()
                    for paragraph in _paragraphs(path)
                    if OPTION in paragraph]
        self.assertGreaterEqual(len(mentions), 2, mentions)
        for page, paragraph in mentions:
            for fmt in image_checks.DISK_FORMATS:
                self.assertIn('``%s``' % fmt, paragraph, page)
            # Nothing says the option must be (or is assumed) off.
            self.assertIsNone(
                re.search(r'%s``\s+(is|must be|should be) off' % OPTION,
                          paragraph), page)


def _defaults():
    """``{(group, option): opt}`` of Nova's and nova-bm's options."""
    found = {}
    for group, opts in (nova.conf.opts.list_opts()
                        + nova_bm_opts.list_opts()):
        name = getattr(group, 'name', group)
        for opt in opts:
            found[(name, opt.dest)] = opt
    return found


def _snippet_page_definitions():
    """Term -> body of the definition list that follows the snippet."""
    with open(os.path.join(ROOT, test_readme.SNIPPET_FILE),
              encoding='utf-8') as f:
        text = f.read()
    start = text.index('What these options do')
    section = text[start:text.index('\n.. _', start)]
    definitions, term = {}, None
    for line in section.splitlines():
        if line.startswith('``'):
            term = line
            definitions[term] = ''
        elif term and line.startswith('    '):
            definitions[term] += ' ' + line.strip()
    return section, definitions


class ProductionSnippetTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        parser.read_string(test_readme.production_snippet())
        self.values = [(group, key, value)
                       for group in ['DEFAULT'] + parser.sections()
                       for key, value in (
                           parser.items(group) if group != 'DEFAULT'
                           else parser.defaults().items())
                       if group == 'DEFAULT'
                       or key not in parser.defaults()]
        self.opts = _defaults()
        self.intro, self.definitions = _snippet_page_definitions()

    def differing(self):
        result = []
        for group, key, value in self.values:
            opt = self.opts[(group, key)]
            if opt.default is None or opt.type(value) != opt.default:
                result.append((group, key, value))
        return result

    def definition_of(self, group, key):
        for term, body in self.definitions.items():
            names = re.findall(r'``(?:\[(\w+)\] )?(\w+)``', term)
            groups = [g for g, _ in names if g]
            if any(name == key for _, name in names) and groups and (
                    groups[0] == group):
                return body
        self.fail('[%s] %s is set by the snippet but not explained'
                  % (group, key))

    def test_every_option_of_the_snippet_is_explained(self):
        self.assertTrue(self.values)
        for group, key, _value in self.values:
            self.assertIn('default', self.definition_of(group, key),
                          '[%s] %s: say what the default is' % (group, key))

    def test_the_values_that_differ_from_their_defaults_are_counted(self):
        differing = self.differing()
        words = {3: 'Three', 4: 'Four', 5: 'Five', 6: 'Six', 7: 'Seven'}
        self.assertIn('%s values differ from their defaults'
                      % words[len(differing)], ' '.join(self.intro.split()),
                      differing)

    def test_ipmi_parallelism_is_the_default(self):
        # 256 was the default before 1024; nothing called for it since.
        value = dict(((g, k), v) for g, k, v in self.values)[
            ('baremetal', 'ipmi_parallelism')]
        opt = self.opts[('baremetal', 'ipmi_parallelism')]
        self.assertEqual(opt.default, opt.type(value))
